// Child process: a Node upstream. GET / answers the fixed body; GET /slow
// sends its headers and first chunk, then one chunk every 50 ms until the
// peer goes away (60 s cap), to see whether a proxy lets go of it when its
// client disconnects. The control port answers GET /sockets with the number
// of open connections on the data port.
// Usage: node upstream-server.ts <port> <control-port> <body-bytes>
import http from 'node:http';

const [port, controlPort, bodyBytes] = process.argv.slice(2).map(Number);
const body = Buffer.alloc(bodyBytes ?? 1024, 'x');
let open = 0;
let total = 0;
let slowStarted = 0;

const server = http.createServer((req, res) => {
  if (req.url === '/slow') {
    slowStarted++;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write(body);
    const timer = setInterval(() => res.write(body), 50);
    const cap = setTimeout(() => res.end(), 60_000);
    res.on('close', () => {
      clearInterval(timer);
      clearTimeout(cap);
    });
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.on('connection', (socket) => {
  open++;
  total++;
  socket.on('close', () => open--);
});
server.listen(port, '127.0.0.1');

http
  .createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ open, total, slowStarted }));
  })
  .listen(controlPort, '127.0.0.1');
