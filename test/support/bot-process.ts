import { spawn, type ChildProcess } from 'node:child_process';
import { entryArgs } from './entry.js';

/** The bot as a real child process (`node dist/src/main.js` after `npm test`'s build, else through tsx: ./entry.ts), its JSON log lines captured. */
export interface BotProcess {
  proc: ChildProcess;
  lines: Array<Record<string, any>>;
  stderr: () => string;
  waitFor(pred: (line: Record<string, any>) => boolean, timeoutMs?: number): Promise<Record<string, any>>;
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  apiUrl(): Promise<string>;
}

/**
 * `modesBind`: the bot runs without the capabilities that let root ignore file modes (util-linux
 * `setpriv` drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from its bounding set), so a 0400 file is
 * read-only to it as to any other user. Unlike switching to another uid, the bot still reads the
 * checkout wherever it is (CI clones into a 0700 temp folder nobody else may enter).
 */
export function startBot(env: Record<string, string>, opts: { cwd?: string; modesBind?: boolean } = {}): BotProcess {
  const cwd = opts.cwd ?? process.cwd();
  const node = [process.execPath, ...entryArgs('src/main.ts', cwd)];
  const argv = opts.modesBind ? ['setpriv', '--bounding-set', '-dac_override,-dac_read_search', '--', ...node] : node;
  const proc = spawn(argv[0]!, argv.slice(1), {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CT_LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, any>> = [];
  const waiters: Array<{ pred: (l: Record<string, any>) => boolean; resolve: (l: Record<string, any>) => void }> = [];
  let buf = '';
  let err = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!text.trim()) continue;
      let line: Record<string, any>;
      try {
        line = JSON.parse(text);
      } catch {
        line = { unparsed: text };
      }
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.pred(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  proc.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => proc.once('exit', (code, signal) => res({ code, signal })));

  const waitFor: BotProcess['waitFor'] = (pred, timeoutMs = 20_000) => {
    const hit = lines.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`timed out waiting for a log line; last lines:\n${lines.slice(-8).map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${err.slice(-2000)}`)), timeoutMs);
      waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          res(l);
        },
      });
      void exited.then(() => {
        clearTimeout(timer);
        rej(new Error(`bot exited while waiting; stderr: ${err.slice(-2000)}; last: ${lines.slice(-5).map((l) => JSON.stringify(l)).join('\n')}`));
      });
    });
  };

  return {
    proc,
    lines,
    stderr: () => err,
    waitFor,
    exited,
    apiUrl: async () => (await waitFor((l) => l.event === 'api_listening')).url as string,
  };
}

export async function getJson<T = any>(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: (await res.json()) as T };
}

/** Polls fn until it returns a truthy value or the deadline passes. */
export async function eventually<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
