/**
 * The live dashboard's server, over real HTTP on loopback: read-only, loopback by default, the page and
 * an event stream that starts with the state so far and carries each update; a port in use is exit code 4.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { EventServer } from '../../src/monitor/event-server.js';
import { LiveDashboard } from '../../src/monitor/live-dashboard.js';
import { ExitCode, VirnucproError } from '../../src/util/errors.js';

function get(url: string, options: { method?: string; host?: string } = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.host ? { host: options.host } : {} }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the live dashboard serves its page read-only on 127.0.0.1 and pushes updates as server-sent events', async () => {
  const lines: string[] = [];
  const live = await LiveDashboard.start({ port: 0, run: { input: { path: '/data/reads.fa' } }, log: (l) => lines.push(l) });
  try {
    assert.match(live.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.deepEqual(lines, [`live dashboard: ${live.url}`]);
    const page = await get(live.url);
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.body, /connect-src 'self'/);
    assert.match(page.body, /"mode":"live"/);
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await get(live.url, { method });
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, HEAD');
    }
    assert.equal((await get(`${live.url}nothing`)).status, 404);
    // A request that names another host (DNS rebinding) is refused on loopback.
    assert.equal((await get(live.url, { host: 'evil.example:80' })).status, 421);
    assert.equal((await get(live.url, { host: 'localhost' })).status, 200);

    // The stream: the state so far first, then each update.
    live.stage('plan');
    const events: string[] = [];
    const stream = await new Promise<import('node:http').IncomingMessage>((resolve) => request(`${live.url}events`, resolve).end());
    assert.equal(stream.headers['content-type'], 'text/event-stream');
    const received = new Promise<void>((resolve) => {
      stream.on('data', (d: Buffer) => {
        events.push(d.toString());
        if (events.join('').includes('event: finished')) resolve();
      });
    });
    await new Promise((r) => setTimeout(r, 50));
    live.stage('compute');
    live.unit({ unit: 'shard-1', device: 'cpu:0', start: 1, end: 2, stolen: false, backup: false });
    live.finished(true, 'done');
    await received;
    const text = events.join('');
    assert.match(text, /event: state\ndata: \{"run":\{"input":\{"path":"\/data\/reads\.fa"\}\},"stage":"plan"/);
    assert.match(text, /event: stage\ndata: \{"stage":"compute"\}/);
    assert.match(text, /event: unit\ndata: \{"unit":"shard-1"/);
    assert.match(text, /event: finished\ndata: \{"complete":true,"message":"done"\}/);
    stream.destroy();
  } finally {
    await live.stop();
  }
  await assert.rejects(get(live.url), /ECONNREFUSED/, 'it stops with the run');
});

test('a dashboard port in use is exit code 4 naming the address; an address not of this machine is exit code 2', async () => {
  const first = await EventServer.start({ host: '127.0.0.1', port: 0, page: () => '', state: () => ({}) });
  try {
    const port = Number(new URL(first.url).port);
    await assert.rejects(EventServer.start({ host: '127.0.0.1', port, page: () => '', state: () => ({}) }), (e: VirnucproError) => {
      assert.equal(e.exitCode, ExitCode.resource);
      assert.match(e.message, new RegExp(`--dashboard-port ${port}: 127\\.0\\.0\\.1:${port} is already in use`));
      assert.match(e.hint!, /--dashboard-port 0/);
      return true;
    });
  } finally {
    await first.close();
  }
  await assert.rejects(EventServer.start({ host: '192.0.2.1', port: 0, page: () => '', state: () => ({}) }), (e: VirnucproError) => {
    assert.equal(e.exitCode, ExitCode.badInput);
    assert.match(e.message, /--dashboard-host 192\.0\.2\.1: cannot listen/);
    return true;
  });
});
