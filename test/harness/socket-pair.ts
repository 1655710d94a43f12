// Two ends of one loopback TCP connection: the client's and the one the
// server accepted (allowHalfOpen, as the proxy's listeners), for tests of
// what the proxy does to a socket.
import net from 'node:net';
import { once } from 'node:events';

export interface SocketPair {
  client: net.Socket;
  accepted: net.Socket;
  close: () => void;
}

export async function socketPair(serverOpts: net.ServerOpts = {}): Promise<SocketPair> {
  const server = net.createServer({ allowHalfOpen: true, ...serverOpts });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const acceptedP = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  const accepted = await acceptedP;
  return {
    client,
    accepted,
    close: () => {
      client.destroy();
      accepted.destroy();
      server.close();
    },
  };
}
