import { Agent, request } from 'undici';

interface StoredCookie {
  name: string;
  value: string;
  host: string;
  path: string;
  expires?: number;
}

export interface Page {
  status: number;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  location?: string;
  text: string;
  json<T = unknown>(): T;
}

export interface Send {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as application/x-www-form-urlencoded, like an HTML form. */
  form?: Record<string, string>;
}

/**
 * A scripted browser: its own cookie jar (host and path scoped, Max-Age/Expires honoured), a User-Agent, and
 * the relay's TLS with only the given roots trusted. It never follows a redirect by itself, so a test sees
 * every hop.
 */
export class Browser {
  readonly jar: StoredCookie[] = [];
  private readonly dispatcher: Agent;

  constructor(
    rootsPem: string[],
    readonly userAgent = 'Mozilla/5.0 (X11; Linux x86_64) DropOpsTest/1.0',
  ) {
    this.dispatcher = new Agent({ connect: { ca: rootsPem } });
  }

  cookie(name: string): string | undefined {
    return this.live().find((c) => c.name === name)?.value;
  }

  /** Copies named cookies into another browser, as a thief with the cookie file would. */
  copyCookiesTo(other: Browser, names: string[]): void {
    for (const c of this.live()) if (names.includes(c.name)) other.jar.push({ ...c });
  }

  private live(): StoredCookie[] {
    const now = Date.now();
    return this.jar.filter((c) => c.expires === undefined || c.expires > now);
  }

  private cookieHeader(url: URL): string | undefined {
    const matching = this.live().filter(
      (c) =>
        c.host === url.host &&
        (url.pathname === c.path || url.pathname.startsWith(c.path.replace(/\/?$/, '/'))),
    );
    return matching.length ? matching.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }

  private store(url: URL, header: string): void {
    const [pair, ...attributes] = header.split(';').map((part) => part.trim());
    const eq = pair!.indexOf('=');
    const cookie: StoredCookie = {
      name: pair!.slice(0, eq),
      value: pair!.slice(eq + 1),
      host: url.host,
      path: url.pathname.replace(/\/[^/]*$/, '') || '/',
    };
    for (const attribute of attributes) {
      const [key, value = ''] = attribute.split('=');
      const k = key!.toLowerCase();
      if (k === 'path') cookie.path = value;
      if (k === 'expires') cookie.expires = Date.parse(value);
      if (k === 'max-age') cookie.expires = Date.now() + Number(value) * 1000;
    }
    const index = this.jar.findIndex(
      (c) => c.name === cookie.name && c.host === cookie.host && c.path === cookie.path,
    );
    if (index >= 0) this.jar.splice(index, 1);
    this.jar.push(cookie);
  }

  async go(target: string | URL, send: Send = {}): Promise<Page> {
    const url = new URL(target);
    const headers: Record<string, string> = { 'user-agent': this.userAgent, ...send.headers };
    const cookies = this.cookieHeader(url);
    if (cookies) headers.cookie = cookies;
    let body: string | undefined;
    if (send.form) {
      body = new URLSearchParams(send.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const response = await request(url, {
      method: (send.method ?? (send.form ? 'POST' : 'GET')) as 'GET',
      headers,
      body,
      dispatcher: this.dispatcher,
    });
    const setCookie = response.headers['set-cookie'];
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [])
      this.store(url, line);
    const text = await response.body.text();
    const location = response.headers.location;
    return {
      status: response.statusCode,
      url: url.href,
      headers: response.headers,
      location: typeof location === 'string' ? new URL(location, url).href : undefined,
      text,
      json: <T>() => JSON.parse(text) as T,
    };
  }

  /** Follows redirects hop by hop (each one through the jar) until a page that is not a redirect. */
  async follow(target: string | URL, send: Send = {}, maxHops = 10): Promise<{ page: Page; pages: Page[] }> {
    const pages = [await this.go(target, send)];
    for (let page = pages[0]!; page.status >= 300 && page.status < 400 && page.location;) {
      if (pages.length > maxHops)
        throw new Error(`more than ${maxHops} redirects: ${pages.map((p) => p.url)}`);
      page = await this.go(page.location);
      pages.push(page);
    }
    return { page: pages[pages.length - 1]!, pages };
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}

/** The action and hidden fields of the first form on a page (the sign-in pages are plain HTML forms). */
export function formOf(page: Page, id?: string): { action: string; fields: Record<string, string> } {
  const pattern = id
    ? new RegExp(`<form[^>]*id="${id.replace('.', '\\.')}"[^>]*>([\\s\\S]*?)</form>`)
    : /<form[^>]*>([\s\S]*?)<\/form>/;
  const match = pattern.exec(page.text);
  if (!match) throw new Error(`no form on ${page.url}: ${page.text.slice(0, 300)}`);
  const action = /action="([^"]+)"/.exec(match[0])![1]!.replace(/&amp;/g, '&');
  const fields: Record<string, string> = {};
  for (const input of match[1]!.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]+)"/.exec(input[0])?.[1];
    const value = /value="([^"]*)"/.exec(input[0])?.[1];
    if (name) fields[name] = (value ?? '').replace(/&amp;/g, '&');
  }
  return { action: new URL(action, page.url).href, fields };
}
