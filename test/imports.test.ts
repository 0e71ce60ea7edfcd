import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Imports point one way (issue 13): the machines and the store share only src/domain (and
 * src/decimal.ts); the machines know nothing of the broker adapter, the store runs no machine, and
 * the domain depends on nothing. Read from the source files themselves, so a new import that breaks
 * the direction fails here.
 */

const ROOT = resolve(import.meta.dirname, '..');

/** Repository-relative path with forward slashes. */
const rel = (abs: string) => relative(ROOT, abs).split(sep).join('/');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return tsFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** Block and line comments out (imports named in prose are not imports). */
function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/** Every module specifier a source imports or re-exports: static, side-effect and dynamic imports. */
function specifiers(source: string): string[] {
  const code = stripComments(source);
  const out: string[] = [];
  const patterns = [
    // import x from '…', import type { … } from '…', export { … } from '…', export * from '…' (multi-line too)
    /^\s*(?:import|export)\b[^;'"`]*?\bfrom\s*['"]([^'"]+)['"]/gm,
    // import '…'
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    // import('…')
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) out.push(m[1]!);
  return out;
}

interface Import {
  file: string;
  specifier: string;
  /** Repository-relative target of a relative import (`.js` read as the `.ts` it compiles from); null for a package. */
  target: string | null;
}

function importsOf(abs: string): Import[] {
  const file = rel(abs);
  return specifiers(readFileSync(abs, 'utf8')).map((specifier) => ({
    file,
    specifier,
    target: specifier.startsWith('.') ? rel(resolve(dirname(abs), specifier)).replace(/\.js$/, '.ts') : null,
  }));
}

const importsUnder = (dir: string) => tsFiles(join(ROOT, dir)).flatMap(importsOf);
const show = (i: Import) => `${i.file} → ${i.specifier}`;

const inDomain = (target: string) => target.startsWith('src/domain/') || target === 'src/decimal.ts';

describe('the import scanner', () => {
  it('finds static, type-only, multi-line, re-exported, side-effect and dynamic imports, not ones in comments', () => {
    const source = [
      "import { a } from './a.js';",
      "import type { B } from '../b.js';",
      'import {',
      '  c,',
      '  type D,',
      "} from '../../c.js';",
      "export { e } from './e.js';",
      "export * from './f.js';",
      "import './g.js';",
      "const h = await import('./h.js');",
      "// import { no } from './commented.js';",
      "/* import { no } from './block.js'; */",
      "const s = 'not an import from here';",
    ].join('\n');
    expect(specifiers(source).sort()).toEqual(['../../c.js', '../b.js', './a.js', './e.js', './f.js', './g.js', './h.js']);
  });

  it('sees the imports the code has (a scanner that finds nothing would pass everything)', () => {
    const machines = importsUnder('machines');
    expect(machines.map((i) => `${i.file} → ${i.target ?? i.specifier}`)).toEqual(
      expect.arrayContaining(['machines/order.machine.ts → src/domain/reports.ts', 'machines/order.machine.ts → xstate', 'machines/stop-outcomes.ts → src/decimal.ts']),
    );
    expect(importsUnder('src/store').some((i) => i.target === 'src/domain/protection.ts')).toBe(true);
  });
});

describe('imports point one way', () => {
  it('machines/ import from src/ only src/domain/ and src/decimal.ts', () => {
    const bad = importsUnder('machines').filter((i) => i.target !== null && i.target.startsWith('src/') && !inDomain(i.target));
    expect(bad.map(show)).toEqual([]);
  });

  it('src/domain/ imports nothing outside src/domain/ and src/decimal.ts (no packages either)', () => {
    const bad = importsUnder('src/domain').filter((i) => i.target === null || !inDomain(i.target));
    expect(bad.map(show)).toEqual([]);
  });

  it('src/store/ never imports machines/ (and from src/ only the store, the domain and leaf utilities)', () => {
    const imports = importsUnder('src/store');
    expect(imports.filter((i) => i.target?.startsWith('machines/')).map(show)).toEqual([]);
    const leaves = new Set(['src/decimal.ts', 'src/time.ts', 'src/startup-refusal.ts']);
    const bad = imports.filter((i) => i.target !== null && !i.target.startsWith('src/store/') && !inDomain(i.target) && !leaves.has(i.target));
    expect(bad.map(show)).toEqual([]);
  });

  it('src/broker/ never imports machines/, the store, the runtime, protection, sync or the API', () => {
    const bad = importsUnder('src/broker').filter((i) => i.target !== null && /^(machines|src\/(store|runtime|protection|sync|api))\//.test(i.target));
    expect(bad.map(show)).toEqual([]);
  });

  it('src/notify/ (the notifications outbox) sits below the code that reports facts: no runtime, protection, sync, API or broker', () => {
    const bad = importsUnder('src/notify').filter((i) => i.target !== null && /^src\/(runtime|protection|sync|api|broker|sim)\//.test(i.target));
    expect(bad.map(show)).toEqual([]);
    // Its rows are the store's (src/store/notifications.ts), written by nothing else.
    const files = tsFiles(join(ROOT, 'src')).filter((f) => /\b(insertNotification|markDelivered|markFailed)\b/.test(stripComments(readFileSync(f, 'utf8'))));
    expect(files.map(rel).sort()).toEqual(['src/notify/delivery.ts', 'src/notify/outbox.ts', 'src/store/notifications.ts']);
  });

  it('only src/protection/stop-transitions.ts writes stop rows (the store runs no machine)', () => {
    const files = [...tsFiles(join(ROOT, 'src')), ...tsFiles(join(ROOT, 'machines'))];
    const users = files.filter((f) => /\b(writeStopPatch|insertStopRow)\b/.test(stripComments(readFileSync(f, 'utf8')))).map(rel);
    expect(users.sort()).toEqual(['src/protection/stop-transitions.ts', 'src/store/stops.ts']);
  });
});

describe('checkers judge from the broker\'s side (issue 22)', () => {
  it('the chaos checker (test/chaos/ and every file it reaches) imports nothing from src/ but the simulator, and nothing from machines/', () => {
    const seen = new Set<string>();
    const queue = tsFiles(join(ROOT, 'test/chaos')).map(rel);
    const bad: string[] = [];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const i of importsOf(join(ROOT, file))) {
        if (i.target === null) continue;
        if (i.target.startsWith('machines/') || (i.target.startsWith('src/') && !i.target.startsWith('src/sim/'))) bad.push(show(i));
        else if (i.target.startsWith('test/')) queue.push(i.target);
      }
    }
    expect(bad).toEqual([]);
    // It did follow the imports: the harness reaches the support files and its own rules.
    expect([...seen]).toEqual(expect.arrayContaining(['test/chaos/harness.ts', 'test/chaos/broker-terms.ts', 'test/support/bot-process.ts', 'test/support/tagging-proxy.ts']));
  });
});

describe('one domain', () => {
  // The service's code: src/ (but the simulator, which models the broker on its own) and machines/.
  const service = [...tsFiles(join(ROOT, 'src')), ...tsFiles(join(ROOT, 'machines'))].filter((f) => !rel(f).startsWith('src/sim/'));
  const matching = (re: RegExp, except: string) => service.filter((f) => rel(f) !== except && re.test(stripComments(readFileSync(f, 'utf8')))).map(rel);

  it("nothing but src/domain/symbols.ts decides crypto by a symbol's slash", () => {
    expect(matching(/\.includes\(\s*['"`]\/['"`]\s*\)|\.indexOf\(\s*['"`]\/['"`]\s*\)/, 'src/domain/symbols.ts')).toEqual([]);
  });

  it('one isCrypto, in src/domain/symbols.ts', () => {
    expect(matching(/\b(function\s+isCrypto\b|(const|let|var)\s+isCrypto\s*=)/, 'src/domain/symbols.ts')).toEqual([]);
  });

  it('one isOption, in src/domain/symbols.ts (an option contract is never protected: decided by it)', () => {
    expect(matching(/\b(function\s+isOption\b|(const|let|var)\s+isOption\s*=)/, 'src/domain/symbols.ts')).toEqual([]);
  });

  it('one set of status groups: order statuses in src/domain/orders.ts, live stop statuses in src/domain/protection.ts', () => {
    expect(matching(/\b(FINAL_ORDER_STATUSES|LIVE_ORDER_STATUSES)\s*=|function\s+(isFinalStatus|isLiveStatus|brokerOutcome)\b/, 'src/domain/orders.ts')).toEqual([]);
    expect(matching(/\[\s*'pending',\s*'unknown',\s*'confirmed',\s*'rejected'\s*\]/, 'src/domain/protection.ts')).toEqual([]);
  });

  it('src/broker/reports.ts and machines/order-status.ts are gone (their contents live in src/domain/)', () => {
    const all = service.map(rel);
    expect(all).not.toContain('src/broker/reports.ts');
    expect(all).not.toContain('machines/order-status.ts');
    expect(all).toEqual(expect.arrayContaining(['src/domain/reports.ts', 'src/domain/orders.ts', 'src/domain/symbols.ts', 'src/domain/protection.ts']));
  });
});

describe('one owner per decision (issue 22)', () => {
  const service = [...tsFiles(join(ROOT, 'src')), ...tsFiles(join(ROOT, 'machines'))].filter((f) => !rel(f).startsWith('src/sim/'));
  const using = (re: RegExp) => service.filter((f) => re.test(stripComments(readFileSync(f, 'utf8')))).map(rel).sort();

  it('restart happens in one place: only src/runtime/restart.ts restores the actors, resumes the stops and runs the first reconcile', () => {
    expect(using(/\.restore\(\)|\.recover\(|\b(restartStops|followFractionStops)\(\s*[a-z]|trigger\(\s*'start'\s*\)/)).toEqual(['src/protection/stop-transitions.ts', 'src/runtime/restart.ts']);
    // stop-transitions.ts only defines them (it calls neither).
    const defs = stripComments(readFileSync(join(ROOT, 'src/protection/stop-transitions.ts'), 'utf8'));
    expect(defs).not.toMatch(/[^n]\s(restartStops|followFractionStops)\(\s*db\s*\)\s*;/);
  });

  it('cooldowns are decided in one place: only src/runtime/exit-cooldowns.ts starts one', () => {
    expect(using(/\bstartExitCooldown\(/)).toEqual(['src/runtime/exit-cooldowns.ts', 'src/store/cooldowns.ts']);
  });
});
