/**
 * One job: the inspector's bridge page (GET / on CT_INSPECT_PORT) and its Content-Security-Policy.
 * It embeds the Stately UI in an iframe and hands it the feed by postMessage, to the UI's own origin
 * only, and believes only that iframe's window from that origin. The feed's token (CT_API_TOKEN) is
 * asked for as the dashboard does: a small form, kept in this tab's sessionStorage, sent as the
 * socket's first message, never in a URL. Keep the script free of backticks and `${`: it is hashed.
 */
import { createHash } from 'node:crypto';

/** The close codes the feed uses, and the page reads (4000-4999: the application's own). */
export const CLOSE_TOKEN_REQUIRED = 4401;
export const CLOSE_TOO_MANY_ATTEMPTS = 4429;

export const STYLE = `
* { margin: 0; padding: 0; box-sizing: border-box; }
html, body { height: 100%; }
body { display: flex; flex-direction: column; font: 14px/1.45 system-ui, sans-serif; color: #1c2430; }
#token-form, #status { padding: 8px 14px; border-bottom: 1px solid #dde3ea; background: #f5f7fa; display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: center; }
#token-form[hidden], #status[hidden] { display: none; }
#token-form input { font: 13px ui-monospace, Menlo, Consolas, monospace; padding: 3px 8px; min-width: 320px; }
#token-form .sub { font-size: 12px; color: #5f6b7a; }
#status { color: #82071e; background: #fff0f1; }
iframe { flex: 1; width: 100%; border: none; }
`;

export const SCRIPT = `
(function () {
  'use strict';
  var TOKEN_KEY = 'crazy-trade.api-token';
  var CLOSE_TOKEN_REQUIRED = ${CLOSE_TOKEN_REQUIRED};
  var CLOSE_TOO_MANY_ATTEMPTS = ${CLOSE_TOO_MANY_ATTEMPTS};
  var iframe = document.getElementById('inspector');
  // The Stately UI's own origin: the feed is posted to it alone, and only its window is believed.
  var UI_ORIGIN = new URL(iframe.getAttribute('src'), location.href).origin;
  var buffer = [];
  var connected = false;
  var memo = '';

  function getToken() {
    try { return window.sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return memo; }
  }
  function setToken(value) {
    memo = value;
    try {
      if (value) window.sessionStorage.setItem(TOKEN_KEY, value); else window.sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage disabled: the token lasts as long as this page */ }
  }
  function status(text) {
    var s = document.getElementById('status');
    s.textContent = text || '';
    s.hidden = !text;
  }
  function post(data) {
    iframe.contentWindow.postMessage(data, UI_ORIGIN);
  }

  window.addEventListener('message', function (e) {
    if (e.origin !== UI_ORIGIN || e.source !== iframe.contentWindow) return;
    if (e.data && e.data.type === '@statelyai.connected') {
      connected = true;
      buffer.forEach(post);
      buffer.length = 0;
    }
  });

  function connect() {
    var ws = new WebSocket('ws://' + location.host + '/');
    // The token first (empty when there is none yet: the feed then says at once whether it needs one).
    ws.onopen = function () { ws.send(getToken()); };
    ws.onmessage = function (event) {
      var data = JSON.parse(event.data);
      if (connected) post(data);
      else buffer.push(data);
    };
    ws.onclose = function (e) {
      if (e.code === CLOSE_TOKEN_REQUIRED) {
        if (getToken()) setToken('');
        document.getElementById('token-why').textContent = 'The inspector feed: ' + (e.reason || 'token required') + '. Enter CT_API_TOKEN.';
        document.getElementById('token-form').hidden = false;
        status('');
      } else if (e.code === CLOSE_TOO_MANY_ATTEMPTS) {
        status('The inspector feed: ' + (e.reason || 'too many failed token attempts') + '. Reload later.');
      } else {
        status('The inspector feed closed (' + e.code + (e.reason ? ': ' + e.reason : '') + '). Reload to reconnect.');
      }
    };
  }

  document.getElementById('token-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var input = document.getElementById('token-input');
    var value = String(input.value || '').trim();
    input.value = '';
    if (!value) return;
    setToken(value);
    document.getElementById('token-form').hidden = true;
    connect();
  });
  // An address never carries the token: whatever query string there is goes, unread.
  if (window.location.search) window.history.replaceState(null, '', window.location.pathname);
  connect();
})();
`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The page: the Stately UI at `uiUrl` in an iframe, the token form above it. */
export function bridgePage(uiUrl: string): string {
  const src = uiUrl.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<title>crazy-trade · Stately Inspector</title>
<style>${STYLE}</style>
</head>
<body>
<form id="token-form" hidden>
<span id="token-why">The inspector feed needs the API token (CT_API_TOKEN).</span>
<label>API token <input id="token-input" type="password" autocomplete="off" spellcheck="false" aria-label="API token"></label>
<button type="submit">Use token</button>
<span class="sub">kept in this browser tab only (sessionStorage), sent over the feed's socket, never in a URL</span>
</form>
<div id="status" role="alert" hidden></div>
<iframe id="inspector" src="${src}"></iframe>
<script>${SCRIPT}</script>
</body>
</html>`;
}

/**
 * Nobody may frame the page (frame-ancestors); it runs only its own inline script and style (by
 * hash), frames only the Stately UI's origin and opens sockets only to the inspector itself.
 */
export function bridgeCsp(uiUrl: string, feedOrigins: string[]): string {
  return [
    "default-src 'none'",
    `script-src ${sha256(SCRIPT)}`,
    `style-src ${sha256(STYLE)}`,
    `frame-src ${new URL(uiUrl).origin}`,
    `connect-src ${feedOrigins.join(' ')}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
