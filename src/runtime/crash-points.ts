/**
 * Test hook for the crash tests (CT_CRASH_AT): at the named step the process SIGKILLs itself, as
 * a power cut would — no handler runs, nothing is flushed. Unset in production; every point is a
 * no-op then.
 */
export type CrashPoint = 'before_intent_commit' | 'after_intent_commit' | 'after_stop_post' | 'after_guard_post' | 'before_change_commit';
export const CRASH_POINTS: readonly CrashPoint[] = ['before_intent_commit', 'after_intent_commit', 'after_stop_post', 'after_guard_post', 'before_change_commit'];

let armed: CrashPoint | undefined;

export function armCrashPoint(point: CrashPoint | undefined): void {
  armed = point;
}

export function crashPoint(point: CrashPoint): void {
  if (armed === point) process.kill(process.pid, 'SIGKILL');
}
