import type { Database } from '../store/database.js';
import { dataVersion } from '../store/data-version.js';

/**
 * The answers of a read route kept while the database has not changed (store/data-version.ts): the
 * dashboard asks for the same page every 5 s, and between two fills the answer is the same bytes.
 * Any committed write empties it; a request of another shape (its key) is answered afresh. At most
 * `size` answers, the least recently used going first.
 */
export class AnswerCache {
  private version: string | null = null;
  private readonly answers = new Map<string, Buffer>();

  constructor(
    private readonly db: Database,
    private readonly size = 16,
  ) {}

  /** The answer for `key`, kept or made by `make` (and kept while the database stays as it is). */
  answer(key: string, make: () => Buffer): Buffer {
    const version = dataVersion(this.db);
    if (version === null || version !== this.version) {
      this.answers.clear();
      this.version = version;
    }
    const kept = this.answers.get(key);
    if (kept) {
      this.answers.delete(key);
      this.answers.set(key, kept);
      return kept;
    }
    const made = make();
    // Made under `version`: the version read before the reads that made it (a write between them
    // changes the version read next, so the answer is never given for the state after that write).
    if (version !== null) {
      this.answers.set(key, made);
      if (this.answers.size > this.size) this.answers.delete(this.answers.keys().next().value!);
    }
    return made;
  }
}
