import { StartupRefusal } from '../startup-refusal.js';

/** The settings a listener was bound from, by the names a user sets them with. */
export interface BindSettings {
  host: string;
  port: number;
  hostVar: string;
  portVar: string;
}

/**
 * A listener that could not bind, as one line naming the setting to change (exit 2, as for
 * invalid configuration): under pm2 or systemd a port in use is not a crash to restart into
 * again and again, it is a setting to fix. Null: not a bind error (the caller rethrows it).
 */
export function bindRefusal(err: unknown, s: BindSettings): StartupRefusal | null {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const where = `${s.host}:${s.port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new StartupRefusal(`${s.portVar}: port ${s.port} on ${s.host} is already in use by another process; stop that process or set ${s.portVar} to a free port`);
    case 'EACCES':
      return new StartupRefusal(`${s.portVar}: not allowed to listen on ${where} (ports below 1024 need privileges); set ${s.portVar} to 1024 or above`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new StartupRefusal(`${s.hostVar}: ${s.host} is not an address of this machine; set ${s.hostVar} to one of its addresses (127.0.0.1 for this machine only)`);
    default:
      return null;
  }
}
