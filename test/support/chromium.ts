import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

/** Names looked up on PATH, in this order, when CT_CHROMIUM is not set. */
export const CHROMIUM_NAMES = ['chromium', 'chromium-browser', 'google-chrome'] as const;

export const NO_CHROMIUM_MESSAGE =
  'no Chromium found (CT_CHROMIUM, chromium, chromium-browser, google-chrome); install one with `apt-get install chromium` or set CT_CHROMIUM';

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Chromium to drive, or undefined when there is none. `CT_CHROMIUM`, when set (even to a path
 * that does not exist), is the only candidate; otherwise the first of {@link CHROMIUM_NAMES} found
 * executable in a PATH entry. No shell is involved.
 */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = env.CT_CHROMIUM;
  if (explicit !== undefined && explicit !== '') {
    const path = isAbsolute(explicit) ? explicit : resolve(process.cwd(), explicit);
    return isExecutableFile(path) ? path : undefined;
  }
  const dirs = (env.PATH ?? '').split(delimiter).filter((d) => d !== '' && isAbsolute(d));
  for (const name of CHROMIUM_NAMES) {
    for (const dir of dirs) {
      const path = join(dir, name);
      if (isExecutableFile(path)) return path;
    }
  }
  return undefined;
}

/** True when CT_REQUIRE_BROWSER=1: a missing Chromium fails the browser tests instead of skipping them. */
export function browserRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CT_REQUIRE_BROWSER === '1';
}
