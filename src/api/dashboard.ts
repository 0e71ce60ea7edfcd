import { createHash } from 'node:crypto';
import type Router from '@koa/router';
import { PAGE, SCRIPT, STYLE } from './dashboard-page.js';

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/**
 * Only the page's own inline <script> and <style> (by hash), fetches to its own origin, no
 * framing, no plugins, no forms, no base rewriting, and no HTML-from-string sinks (Trusted Types
 * with no policy: assigning a string to innerHTML throws).
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

const BODY = Buffer.from(PAGE, 'utf8');

/** GET / — the dashboard page (DESIGN §5), embedded in the module so tsx and the build serve the same bytes. */
export function dashboardRoutes(router: Router): void {
  router.get('/', (ctx) => {
    ctx.set('Content-Security-Policy', DASHBOARD_CSP);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = BODY;
  });
}
