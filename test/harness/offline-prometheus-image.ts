// A Prometheus image built with no registry: Debian's /usr/bin/prometheus,
// its shared libraries and a few /etc files in a root filesystem, imported
// with `docker import` (as the mesh image's offline build does). For e2e tests
// of `meshctl up --observability` on machines that cannot pull prom/prometheus.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { sharedLibraries } from '../../src/cli/image/stage-files.ts';
import { PROMETHEUS_BIN } from './prometheus-process.ts';

export function buildOfflinePrometheusImage(tag: string): void {
  const which = spawnSync('sh', ['-c', `command -v ${PROMETHEUS_BIN}`], { encoding: 'utf8' });
  const binary = which.stdout.trim();
  if (which.status !== 0 || !binary) throw new Error(`no ${PROMETHEUS_BIN} on PATH (apt-get install prometheus)`);
  const stage = mkdtempSync(join(tmpdir(), 'meshctl-prom-image-'));
  try {
    const put = (from: string, to: string) => {
      mkdirSync(dirname(join(stage, to)), { recursive: true });
      copyFileSync(from, join(stage, to));
    };
    put(binary, '/bin/prometheus');
    chmodSync(join(stage, 'bin/prometheus'), 0o755);
    for (const lib of sharedLibraries(binary)) put(lib, lib);
    mkdirSync(join(stage, 'etc/prometheus'), { recursive: true });
    writeFileSync(join(stage, 'etc/passwd'), 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n');
    writeFileSync(join(stage, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
    writeFileSync(join(stage, 'etc/nsswitch.conf'), 'hosts: files dns\n');
    for (const d of ['tmp', 'prometheus']) {
      mkdirSync(join(stage, d), { recursive: true });
      chmodSync(join(stage, d), 0o1777);
    }
    const tar = spawnSync('tar', ['-C', stage, '--numeric-owner', '--owner=0', '--group=0', '-cf', '-', '.'], { maxBuffer: 1 << 30 });
    if (tar.status !== 0) throw new Error(`tar: ${tar.stderr}`);
    const imp = spawnSync(
      'docker',
      ['import', '--change', 'ENTRYPOINT ["/bin/prometheus"]', '--change', 'WORKDIR /prometheus', '--change', 'LABEL mesh.test=offline-prometheus', '-', tag],
      { input: tar.stdout, encoding: 'utf8', maxBuffer: 1 << 20, timeout: 120_000 },
    );
    if (imp.status !== 0) throw new Error(`docker import: ${imp.stderr}`);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
