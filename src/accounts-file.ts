import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import YAML, { isMap, isScalar, LineCounter, type Node } from 'yaml';

/**
 * Reading CT_ACCOUNTS_FILE (JSON or YAML): the bytes, the format and the permissions. What the
 * settings mean is validated in src/config.ts.
 *
 * The file holds secret keys, so no message from here quotes its content: JSON.parse and the YAML
 * parser both print a snippet of the source around an error, which could be a secret. Errors give the
 * kind of mistake and, where known, the line and column.
 */
export class AccountsFileError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'AccountsFileError';
  }
}

export interface AccountsFileContent {
  /** The parsed document (anything: the caller validates its shape). */
  data: unknown;
  /** Permission bits (mode & 0o777), or undefined where they mean nothing (Windows). */
  mode: number | undefined;
  /**
   * "line 3, column 5": where the value at `path` starts in the file (with `key`: where that key of
   * the mapping at `path` is written); '' when it cannot be told. Never any of the file's text.
   */
  locate(path: ReadonlyArray<string | number>, key?: string): string;
}

/** Reads and parses the file: .json as JSON, .yaml / .yml as YAML, anything else JSON then YAML. */
export function readAccountsFile(path: string): AccountsFileContent {
  let text: string;
  let mode: number | undefined;
  try {
    const fd = openSync(path, 'r');
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new AccountsFileError(`cannot read ${path}: not a regular file`);
      mode = process.platform === 'win32' ? undefined : stat.mode & 0o777;
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (err instanceof AccountsFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).name;
    throw new AccountsFileError(`cannot read ${path}: ${code}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);

  const ext = extname(path).toLowerCase();
  const source = text;
  const locate = (at: ReadonlyArray<string | number>, key?: string) => locateIn(source, at, key);
  if (ext === '.json') return { data: parseJson(path, text), mode, locate };
  if (ext === '.yaml' || ext === '.yml') return { data: parseYaml(path, text, 'YAML'), mode, locate };
  try {
    return { data: JSON.parse(text) as unknown, mode, locate };
  } catch {
    return { data: parseYaml(path, text, 'JSON or YAML'), mode, locate };
  }
}

/** JSON is YAML too: one parser with source ranges finds a position in either. */
function locateIn(text: string, path: ReadonlyArray<string | number>, key?: string): string {
  try {
    const lines = new LineCounter();
    const doc = YAML.parseDocument(text, { lineCounter: lines });
    let node = (path.length === 0 ? doc.contents : doc.getIn(path, true)) as Node | null | undefined;
    if (key !== undefined) {
      const pair = isMap(node) ? node.items.find((p) => isScalar(p.key) && String(p.key.value) === key) : undefined;
      node = pair && isScalar(pair.key) ? pair.key : node;
    }
    const offset = node?.range?.[0];
    if (offset === undefined) return '';
    const { line, col } = lines.linePos(offset);
    return `line ${line}, column ${col}`;
  } catch {
    return '';
  }
}

/** Whether group or others may read (or write) the file: it holds secret keys. */
export function exposedMode(mode: number | undefined): boolean {
  return mode !== undefined && (mode & 0o077) !== 0;
}

/** 0o644 → "0644". */
export function formatMode(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

function parseJson(path: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    // V8 quotes the text around the error ("...\"secret_key\": abc..." is not valid JSON): keep only the position.
    const position = /at position (\d+)/.exec((err as Error).message)?.[1];
    throw new AccountsFileError(`cannot parse ${path} as JSON${position === undefined ? '' : ` (${lineColumn(text, Number(position))})`}`);
  }
}

function parseYaml(path: string, text: string, format: string): unknown {
  try {
    return YAML.parse(text) as unknown;
  } catch (err) {
    // YAMLParseError messages end with the offending source lines: keep only the code and the position.
    const e = err as { code?: unknown; linePos?: Array<{ line: number; col: number }> };
    const what = typeof e.code === 'string' ? `: ${e.code.toLowerCase().replace(/_/g, ' ')}` : '';
    const at = e.linePos?.[0] ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
    throw new AccountsFileError(`cannot parse ${path} as ${format}${what}${at}`);
  }
}

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before[before.length - 1]!.length + 1}`;
}
