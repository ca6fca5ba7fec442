import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveConsole } from '../../appliance/src/web/console-files.ts';
import { tempDir } from '../helpers.ts';

// The relay's static file serving for the built console, on a real HTTP server over a dist folder of its own.
describe('serving the built console', () => {
  const dir = tempDir('dropops-console-dist-');
  const dist = join(dir.path, 'dist');
  let server: Server;
  let base: string;

  beforeAll(async () => {
    mkdirSync(join(dist, 'assets'), { recursive: true });
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>app</title>');
    writeFileSync(join(dist, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(join(dist, 'assets', 'index-abc123.css'), 'body{}');
    writeFileSync(join(dir.path, 'secret.txt'), 'outside the dist folder');
    const app = new Koa();
    app.use(serveConsole(dist));
    app.use((ctx) => {
      ctx.status = 404;
      ctx.body = 'relay 404';
    });
    server = createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    dir.remove();
  });

  const get = (path: string, method = 'GET') => fetch(`${base}${path}`, { method });

  it('serves hashed assets with their content type, cached for a year as immutable', async () => {
    const js = await get('/assets/index-abc123.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^(text|application)\/javascript/);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await js.text()).toBe('console.log(1)');
    const css = await get('/assets/index-abc123.css');
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
  });

  it('answers every client route with index.html, never cached, and HEAD without a body', async () => {
    for (const path of ['/', '/operators', '/conversations/6f1c1d2e-0000-4000-8000-000000000000']) {
      const page = await get(path);
      expect(page.status, path).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.headers.get('cache-control')).toBe('no-cache');
      expect(await page.text()).toContain('<title>app</title>');
    }
    const head = await get('/audit', 'HEAD');
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it("leaves the relay's own paths, missing assets, other methods and escapes from the folder to the relay", async () => {
    for (const path of ['/api/session', '/auth/login', '/oidc/auth', '/socket.io/', '/metrics', '/livez']) {
      expect(await (await get(path)).text(), path).toBe('relay 404');
    }
    expect((await get('/assets/missing.js')).status).toBe(404);
    expect((await get('/operators', 'POST')).status).toBe(404);
    for (const path of [
      '/..%2fsecret.txt',
      '/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/%00.js',
    ]) {
      const answer = await (await get(path)).text();
      expect(answer, path).not.toContain('outside the dist folder');
    }
  });

  it('says how to build the console when there is no build', async () => {
    const app = new Koa();
    app.use(serveConsole(join(dir.path, 'nothing-here')));
    const bare = createServer(app.callback());
    await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
    const answer = await fetch(`http://127.0.0.1:${(bare.address() as { port: number }).port}/`);
    expect(answer.status).toBe(503);
    expect(await answer.text()).toContain('npm run build:console');
    await new Promise((resolve) => bare.close(resolve));
  });
});
