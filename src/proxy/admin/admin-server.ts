// The admin HTTP server: /ready, /metrics (Prometheus text), /config (live
// snapshot), /stats (JSON for the dashboard), /tap (live requests, NDJSON).
// Never on the traffic path.
import type { Server } from 'node:http';
import { http } from '../node-http.ts';
import { sameSecret } from '../../shared/same-secret.ts';
import type { AddressInfo } from 'node:net';
import type { TapHub } from '../telemetry/tap-hub.ts';

export interface AdminSource {
  ready(): boolean;
  metricsText(): string;
  configJson(): unknown;
  statsJson(): unknown;
  /** Live request taps (`meshctl tap`); /tap answers 404 without it. */
  tap?: TapHub;
  /**
   * The proxy's service token (MESH_TOKEN): when set, /tap asks for it as a bearer token, because a tap
   * shows request paths, which can carry secrets; only the controller (which derives every service's
   * token) can open one. /metrics, /stats and /config carry no request content and stay open.
   */
  tapToken?: string;
}

export class AdminServer {
  private readonly server: Server;
  private bound: { address: string; port: number } | undefined;

  constructor(source: AdminSource) {
    this.server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const send = (status: number, type: string, body: string): void => {
        res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      switch (path) {
        case '/ready':
          return source.ready() ? send(200, 'text/plain', 'ready\n') : send(503, 'text/plain', 'not ready: no snapshot applied\n');
        case '/metrics':
          return send(200, 'text/plain; version=0.0.4; charset=utf-8', source.metricsText());
        case '/config': {
          const c = source.configJson();
          return c === undefined ? send(404, 'application/json', '{"error":"no snapshot applied"}\n') : send(200, 'application/json', JSON.stringify(c, null, 2) + '\n');
        }
        case '/stats':
          return send(200, 'application/json', JSON.stringify(source.statsJson()) + '\n');
        case '/tap': {
          const tap = source.tap;
          if (tap !== undefined && req.method === 'GET') {
            if (!bearerMatches(req.headers.authorization, source.tapToken)) return send(401, 'text/plain', 'tap needs the service token: open it through the controller (meshctl tap)\n');
            return void tapEndpoint().then(
              // A reader gone while the module loaded has already fired 'close': nothing to subscribe.
              ({ serveTap }) => (res.destroyed ? undefined : serveTap(tap, req, res)),
              (err: Error) => send(500, 'text/plain', `tap unavailable: ${err.message}\n`),
            );
          }
          break;
        }
        case '/':
          return send(200, 'text/plain', 'meshctl proxy admin: /ready /metrics /config /stats /tap\n');
      }
      return send(404, 'text/plain', `no admin endpoint ${req.method} ${path}; try /ready /metrics /config /stats /tap\n`);
    });
  }

  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.removeListener('error', reject);
        const a = this.server.address() as AddressInfo;
        this.bound = { address: a.address, port: a.port };
        resolve();
      });
    });
  }

  address(): { address: string; port: number } | undefined {
    return this.bound;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

// /tap loads on first use: its query schema (shared/api.ts) brings the control-plane
// API and mesh-config schemas with it, ~0.7 MB a sidecar that is never tapped does not need.
let tapModule: Promise<typeof import('./tap-endpoint.ts')> | undefined;
function tapEndpoint(): Promise<typeof import('./tap-endpoint.ts')> {
  return (tapModule ??= import('./tap-endpoint.ts'));
}

/** True when no token is required, or the Authorization header carries exactly it. */
function bearerMatches(header: string | undefined, token: string | undefined): boolean {
  return token === undefined || sameSecret(header, `Bearer ${token}`);
}
