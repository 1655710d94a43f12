// Child process: one node-http-proxy hop with a keep-alive agent, so the
// comparison is with the popular Node proxy configured the way its docs advise.
// Usage: node node-http-proxy-server.ts <listen-port> <target-url>
import http from 'node:http';
import { createRequire } from 'node:module';

interface HttpProxyServer {
  web(req: http.IncomingMessage, res: http.ServerResponse): void;
  on(event: 'error', fn: (err: Error, req: http.IncomingMessage, res: http.ServerResponse | unknown) => void): void;
}
const require = createRequire(import.meta.url);
const httpProxy = require('http-proxy') as { createProxyServer(o: object): HttpProxyServer };

const [portArg, target] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });
const proxy = httpProxy.createProxyServer({ target, agent, xfwd: true });
proxy.on('error', (_err, _req, res) => {
  if (res instanceof http.ServerResponse && !res.headersSent) {
    res.writeHead(502);
    res.end();
  } else if (res instanceof http.ServerResponse) res.destroy();
});
http.createServer((req, res) => proxy.web(req, res)).listen(Number(portArg), '127.0.0.1');
