// How one tapped request reads in the terminal: one line, fixed order (time
// in UTC, direction, source → destination, method, path, status, latency,
// then attempts, trace id, error and proxy only when they say something).
import type { TapMessage, TapRequest } from '../../shared/api.ts';
import { formatMs } from '../ui/format-figures.ts';
import type { Palette, Tone } from '../ui/palette.ts';

function statusTone(status: number): Tone {
  if (status >= 500 || status === 0) return 'bad';
  if (status >= 400) return 'warn';
  if (status >= 200 && status < 300) return 'ok';
  return 'plain';
}

export function formatTapLine(r: TapRequest, palette: Palette, opts: { showProxy?: boolean } = {}): string {
  const time = r.time.length >= 23 ? r.time.slice(11, 23) : r.time;
  const parts = [
    palette.tone('dim', time),
    r.direction === 'inbound' ? 'in ' : 'out',
    `${r.source || '?'} → ${r.destination}`,
    r.method,
    r.path,
    palette.tone(statusTone(r.status), String(r.status)),
    formatMs(r.latencyMs),
  ];
  if (r.attempts > 1) parts.push(`attempts=${r.attempts}`);
  if (r.traceId) parts.push(palette.tone('dim', `trace=${r.traceId}`));
  if (r.error) parts.push(palette.tone('bad', `error=${r.error.split(' ', 1)[0]}`));
  if (opts.showProxy && r.proxy) parts.push(palette.tone('dim', `via ${r.proxy}`));
  return parts.join(' ');
}

/** What the other stream messages tell the user (stderr); undefined for a request. */
export function formatTapNotice(m: TapMessage): string | undefined {
  switch (m.type) {
    case 'request':
      return undefined;
    case 'dropped':
      return `${m.count} request${m.count === 1 ? '' : 's'} not shown: this reader fell behind${m.proxy ? ` (lines dropped at ${m.proxy})` : ' (lines dropped at the controller)'}`;
    case 'tapping':
      return m.proxies.length === 0
        ? `tapping ${m.service}: none of its sidecars is connected to the controller yet; waiting`
        : `tapping ${m.service} through ${m.proxies.length} sidecar${m.proxies.length === 1 ? '' : 's'} (${m.proxies.join(', ')}); Ctrl-C to stop`;
    case 'proxy-error':
      return `sidecar ${m.proxy}: ${m.error}; trying again`;
  }
}
