// Writes corpus.jsonl: `npx tsx test/redact/corpus-gen.ts`. Every secret is random characters of
// the documented shape (seeded, so the file is stable); expected text is assembled from the parts,
// never by running the redactor.
import { writeFileSync } from 'node:fs';

let seed = 0x5eed;
const rnd = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x80000000;
};
const UP = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LO = 'abcdefghijklmnopqrstuvwxyz';
const DIG = '0123456789';
const ALNUM = UP + LO + DIG;
const HEXL = '0123456789abcdef';
const B64 = ALNUM + '+/';
const B64URL = ALNUM + '-_';
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const str = (n: number, set = ALNUM) => {
  let s = '';
  for (let i = 0; i < n; i++) s += set[Math.floor(rnd() * set.length)];
  // Guarantee mixed classes so shape checks (digits + letters) hold.
  if (set === ALNUM && n >= 4) s = pick([...UP]) + pick([...DIG]) + s.slice(2);
  return s;
};

type Part = string | { s: string; k: string };
interface Case {
  input: string;
  expected: string;
  family: string;
  must?: boolean;
}
const cases: Case[] = [];
const add = (family: string, parts: Part[], must = false) => {
  const input = parts.map((p) => (typeof p === 'string' ? p : p.s)).join('');
  const expected = parts.map((p) => (typeof p === 'string' ? p : `[REDACTED:${p.k}]`)).join('');
  cases.push({ input, expected, family, ...(must ? { must: true } : {}) });
};
const benign = (family: string, text: string, must = false) => add(family, [text], must);
const S = (s: string, k: string) => ({ s, k });

const tokens: Record<string, () => string> = {
  'aws-access-key': () =>
    pick(['AKIA', 'ASIA', 'AGPA', 'AIDA', 'AROA', 'ANPA', 'ANVA', 'AIPA']) + str(16, UP + DIG),
  'google-api-key': () => 'AIza' + str(35, B64URL),
  'github-token': () =>
    rnd() < 0.8
      ? pick(['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_']) + str(36)
      : 'github_pat_' + str(22) + '_' + str(59),
  'gitlab-token': () => pick(['glpat-', 'gldt-', 'glrt-']) + str(20, ALNUM + '_-'),
  'slack-token': () =>
    rnd() < 0.8
      ? pick(['xoxb-', 'xoxp-', 'xoxa-', 'xoxr-', 'xoxs-']) +
        str(11, DIG) +
        '-' +
        str(12, DIG) +
        '-' +
        str(24)
      : 'xapp-1-' + str(11, UP + DIG) + '-' + str(13, DIG) + '-' + str(64, HEXL),
  'stripe-key': () => pick(['sk_live_', 'sk_test_', 'rk_live_']) + str(24),
  'twilio-key': () => 'SK' + str(32, HEXL),
  'sendgrid-key': () => 'SG.' + str(22, B64URL) + '.' + str(43, B64URL),
  'npm-token': () => 'npm_' + str(36),
  'pypi-token': () => 'pypi-AgEIcHlwaS5vcmc' + str(60, B64URL),
  'dockerhub-token': () => 'dckr_pat_' + str(27, B64URL),
  'vault-token': () => pick(['hvs.', 'hvb.']) + str(24 + Math.floor(rnd() * 60), B64URL),
  'anthropic-key': () => 'sk-ant-api03-' + str(93, B64URL) + 'AA',
  'openai-key': () => (rnd() < 0.5 ? 'sk-proj-' + str(48, B64URL) + '9' : 'sk-' + str(48)),
  'huggingface-token': () => 'hf_' + str(34),
  'shopify-token': () => pick(['shpat_', 'shpss_']) + str(32, HEXL),
  'atlassian-token': () => 'ATATT3' + str(180, B64URL) + '=' + str(8, UP + DIG),
  'digitalocean-token': () => 'dop_v1_' + str(64, HEXL),
  'discord-token': () =>
    pick(['M', 'N', 'O']) + str(23, ALNUM) + '.' + str(6, B64URL) + '.' + str(27, B64URL),
  'telegram-token': () => str(9, DIG).replace(/^0/, '1') + ':AA' + str(33, B64URL),
  jwt: () =>
    'eyJhbGciOiJ' +
    str(20, B64URL) +
    '.eyJ' +
    str(40 + Math.floor(rnd() * 40), B64URL) +
    '.' +
    str(43, B64URL),
};
const kinds = Object.keys(tokens);

// 1. every prefixed token, bare and in context.
const contexts: ((t: Part) => Part[])[] = [
  (t) => ['token found: ', t],
  (t) => ['export SOME_VALUE=', t],
  (t) => ['2024-05-01T12:00:03Z INFO client configured with ', t, ' ok'],
  (t) => ['{"value":"', t, '","env":"prod"}'],
  (t) => ['  credential_value: ', t],
  (t) => ["echo '", t, "' | docker login --password-stdin"],
];
for (const k of kinds) {
  for (let i = 0; i < 4; i++) add('token/' + k, pick(contexts)(S(tokens[k]!(), k)), i === 0);
}
add(
  'token/slack-webhook',
  [
    'curl -X POST https://hooks.slack.com/services/',
    S('T' + str(8, UP + DIG) + '/B' + str(8, UP + DIG) + '/' + str(24), 'slack-webhook'),
    ' -d \'{"text":"deploy done"}\'',
  ],
  true,
);
add('token/slack-webhook', [
  'SLACK_WEBHOOK_URL=https://hooks.slack.com/services/',
  S('T0' + str(7, UP + DIG) + '/B0' + str(7, UP + DIG) + '/' + str(24), 'slack-webhook'),
]);
add(
  'cloud/azure',
  [
    'DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=',
    S(str(86, B64) + '==', 'azure-storage-key'),
    ';EndpointSuffix=core.windows.net',
  ],
  true,
);
add('cloud/azure', [
  'Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=',
  S(str(43, B64) + '=', 'azure-storage-key'),
]);
add(
  'cloud/azure',
  [
    'https://acme.blob.core.windows.net/c/f.tgz?sv=2022-11-02&ss=b&srt=o&sp=r&se=2025-01-01T00:00:00Z&sig=',
    S(str(40, ALNUM) + '%3D', 'azure-sas'),
  ],
  true,
);
add('cloud/aws', ['aws_secret_access_key = ', S(str(40, B64), 'aws-secret-key')], true);
add('cloud/aws', ['AWS_SECRET_ACCESS_KEY="', S(str(40, B64), 'aws-secret-key'), '"']);
add('cloud/aws', [
  '[default]\naws_access_key_id = ',
  S(tokens['aws-access-key']!(), 'aws-access-key'),
  '\naws_secret_access_key = ',
  S(str(40, B64), 'aws-secret-key'),
  '\nregion = eu-west-1',
]);
add('cloud/aws', ['aws_session_token=', S(str(120, B64), 'aws-secret-key')]);

// 2. PEM private keys.
const pemBody = (lines: number) =>
  Array.from({ length: lines }, () => str(64, B64)).join('\n') + '\n' + str(20, B64) + '==';
for (const label of [
  'RSA PRIVATE KEY',
  'EC PRIVATE KEY',
  'OPENSSH PRIVATE KEY',
  'PRIVATE KEY',
  'ENCRYPTED PRIVATE KEY',
  'DSA PRIVATE KEY',
]) {
  const block = `-----BEGIN ${label}-----\n${pemBody(3 + Math.floor(rnd() * 8))}\n-----END ${label}-----`;
  add('pem', ['ssh key follows\n', S(block, 'private-key'), '\nafter the key'], true);
  add('pem', [S(block, 'private-key'), '\n']);
}
add(
  'pem',
  [
    S(
      `-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,${str(32, HEXL.toUpperCase())}\n\n${pemBody(5)}\n-----END RSA PRIVATE KEY-----`,
      'private-key',
    ),
  ],
  true,
);
add('pem', [
  'tls.key: |\n  ',
  S(
    `-----BEGIN PRIVATE KEY-----\n  ${str(64, B64)}\n  ${str(64, B64)}\n  -----END PRIVATE KEY-----`,
    'private-key',
  ),
  '\ntls.crt: ok',
]);
add(
  'pem',
  [
    '{\n  "type": "service_account",\n  "project_id": "acme-prod",\n  "private_key": "',
    S(
      `-----BEGIN PRIVATE KEY-----\\n${str(64, B64)}\\n${str(64, B64)}\\n${str(12, B64)}==\\n-----END PRIVATE KEY-----\\n`,
      'private-key',
    ),
    '",\n  "client_email": "ci@acme-prod.iam.gserviceaccount.com"\n}',
  ],
  true,
);
add('pem', [
  S(
    `-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n${pemBody(4)}\n=${str(4, B64)}\n-----END PGP PRIVATE KEY BLOCK-----`,
    'private-key',
  ),
]);
add('pem', [
  'key=',
  S(`-----BEGIN EC PRIVATE KEY----- ${str(40, B64)} -----END EC PRIVATE KEY-----`, 'private-key'),
]);

// 3. auth headers and curl.
for (let i = 0; i < 5; i++) {
  add(
    'header',
    ['curl -sS -H "Authorization: Bearer ', S(str(40, B64URL), 'bearer'), '" https://api.acme.io/v1/items'],
    i === 0,
  );
  const basic = Buffer.from(`${pick(['deploy', 'admin', 'ci'])}:${str(12)}`).toString('base64');
  add(
    'header',
    ["curl -H 'Authorization: Basic ", S(basic, 'basic-auth'), "' https://registry.acme.io/v2/"],
    i === 0,
  );
  add('header', [
    'GET /api/v2/status HTTP/1.1\r\nHost: api.acme.io\r\nauthorization: bearer ',
    S(str(32, ALNUM), 'bearer'),
    '\r\nAccept: */*',
  ]);
  add('header', ['curl -H "X-Api-Key: ', S(str(32, ALNUM), 'secret'), '" https://api.acme.io']);
  add('header', [
    'curl --header "PRIVATE-TOKEN: ',
    S(str(24, ALNUM), 'secret'),
    '" https://gitlab.acme.io/api/v4/projects',
  ]);
}
add('header', ['Authorization: Bearer ', S(tokens.jwt!(), 'jwt')], true);
add('header', [
  'request headers={"Authorization": "Bearer ',
  S(str(48, B64URL), 'bearer'),
  '", "Accept": "application/json"}',
]);
add('header', ['X-Auth-Token: ', S(str(40, HEXL), 'secret')]);

// 4. URLs and connection strings.
const hosts = ['db.internal', 'pg-primary.acme.svc.cluster.local', '10.0.4.12', 'cache-01', 'mq.acme.io'];
const dbSchemes = ['postgres', 'postgresql', 'mysql', 'mongodb', 'mongodb+srv', 'redis', 'amqp'];
for (let i = 0; i < 14; i++) {
  const scheme = pick(dbSchemes);
  const pw = str(10 + Math.floor(rnd() * 10), ALNUM + '!*-_');
  add(
    'url/conn',
    [
      'DATABASE_URL=',
      scheme,
      '://',
      pick(['app', 'admin', 'svc_user']),
      ':',
      S(pw, 'connection-string'),
      '@',
      pick(hosts),
      ':5432/app',
    ],
    i < 3,
  );
}
for (let i = 0; i < 6; i++)
  add(
    'url/http',
    [
      'git clone https://',
      pick(['oauth2', 'deploy', 'bob']),
      ':',
      S(str(20), 'url-password'),
      '@git.acme.io/team/repo.git',
    ],
    i === 0,
  );
add(
  'url/trace',
  [
    'Error: connect ECONNREFUSED\n    at TCPConnectWrap.afterConnect (node:net:1555:16)\n    url: "postgres://app:',
    S(str(16), 'connection-string'),
    '@db.internal:5432/orders"\n    at Pool.connect (/app/node_modules/pg-pool/index.js:45:11)',
  ],
  true,
);
add('url/trace', [
  'sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) could not connect to "mysql://root:',
  S(str(14), 'connection-string'),
  '@mysql:3306/shop"',
]);
add(
  'url/ado',
  [
    'Server=tcp:acme.database.windows.net,1433;Initial Catalog=shop;User ID=admin;Password=',
    S(str(16), 'password'),
    ';Encrypt=True;',
  ],
  true,
);
add('url/ado', ['Driver={ODBC Driver 18 for SQL Server};Server=db;Uid=sa;Pwd=', S(str(12), 'password'), ';']);
for (let i = 0; i < 5; i++)
  add(
    'pgpass',
    [
      pick(['localhost', 'db.internal', '*', '10.1.2.3']),
      ':',
      pick(['5432', '*']),
      ':',
      pick(['app', '*', 'orders']),
      ':',
      pick(['postgres', 'app', 'replicator']),
      ':',
      S(str(14, ALNUM + '!@#'), 'pgpass'),
    ],
    i === 0,
  );

// 5. key=value in config formats.
const pwKeys = [
  'password',
  'PASSWORD',
  'DB_PASSWORD',
  'MYSQL_ROOT_PASSWORD',
  'POSTGRES_PASSWORD',
  'db_pass',
  'passwd',
  'pwd',
  'adminPassword',
  'REDIS_PASS',
  'smtp_password',
];
const secretKeys = [
  'secret',
  'client_secret',
  'API_KEY',
  'apiKey',
  'api-key',
  'access_token',
  'githubToken',
  'AUTH_TOKEN',
  'SECRET_KEY',
  'jwt_secret',
  'private_key',
  'app_secret',
  'credentials',
  'refresh_token',
  'SLACK_BOT_TOKEN',
  'encryption_key',
  'accessKey',
];
const value = () => str(8 + Math.floor(rnd() * 24), ALNUM + '!#%^*-_');
const kindOf = (key: string) => (/pass|pwd/i.test(key) ? 'password' : 'secret');
const styles: ((k: string, v: Part) => Part[])[] = [
  (k, v) => [`${k}=`, v],
  (k, v) => [`export ${k}=`, v],
  (k, v) => [`${k}="`, v, '"'],
  (k, v) => [`${k}: `, v],
  (k, v) => [`  ${k}: "`, v, '"'],
  (k, v) => [`{"${k}": "`, v, '", "region": "eu-west-1"}'],
  (k, v) => [`${k} = `, v],
  (k, v) => [`- ${k}=`, v],
  (k, v) => [`const ${k} = '`, v, "';"],
  (k, v) => [`app --${k}=`, v, ' --verbose'],
];
for (let i = 0; i < 50; i++) {
  const key = i % 2 === 0 ? pick(pwKeys) : pick(secretKeys);
  add('kv', pick(styles)(key, S(value(), kindOf(key))), i < 10);
}
add(
  'env',
  [
    '# .env\nNODE_ENV=production\nPORT=8080\nDB_HOST=db.internal\nDB_PASSWORD=',
    S(value(), 'password'),
    '\nSTRIPE_SECRET=',
    S(tokens['stripe-key']!(), 'stripe-key'),
    '\nLOG_LEVEL=info\n',
  ],
  true,
);
add('ini', [
  '[database]\nhost = db.internal\nuser = app\npassword = ',
  S('correct horse battery', 'password'),
  '\nport = 5432',
]);
add('yaml', [
  'database:\n  host: db.internal\n  username: app\n  password: ',
  S(value(), 'password'),
  '\n  pool: 10',
]);
add(
  'compose',
  [
    'services:\n  db:\n    image: postgres:16\n    environment:\n      - POSTGRES_USER=app\n      - POSTGRES_PASSWORD=',
    S(value(), 'password'),
    '\n    ports:\n      - "5432:5432"',
  ],
  true,
);
add('compose', [
  '    environment:\n      MYSQL_ROOT_PASSWORD: ',
  S(value(), 'password'),
  '\n      MYSQL_DATABASE: shop',
]);
add('json', [
  '{\n  "name": "svc",\n  "auth": {\n    "clientId": "web-app",\n    "clientSecret": "',
  S(value(), 'secret'),
  '"\n  }\n}',
]);
add('npmrc', ['//registry.npmjs.org/:_authToken=', S(tokens['npm-token']!(), 'npm-token')], true);
add('npmrc', ['//npm.acme.io/:_authToken=', S(str(36, HEXL), 'secret')]);
add('docker', [
  '{"auths":{"registry.acme.io":{"auth":"',
  S(Buffer.from('ci:' + str(20)).toString('base64'), 'high-entropy'),
  '"}}}',
]);
add('escaped-json', ['msg="{\\"user\\":\\"bob\\",\\"password\\":\\"', S(value(), 'password'), '\\"}"']);
for (let i = 0; i < 3; i++) add('high-entropy', ['session_key: ', S(str(32, B64URL), 'high-entropy')]);
add('high-entropy', ['signature=', S(str(44, B64), 'high-entropy')]);

// 6. k8s Secrets.
for (let i = 0; i < 4; i++) {
  const v1 = Buffer.from(str(12)).toString('base64');
  const v2 = Buffer.from(str(20)).toString('base64');
  add(
    'k8s',
    [
      'apiVersion: v1\nkind: Secret\nmetadata:\n  name: db-creds\n  namespace: prod\ntype: Opaque\ndata:\n  username: ',
      S(Buffer.from('app').toString('base64'), 'secret'),
      '\n  password: ',
      S(v1, 'password'),
      '\n  tls.key: ',
      S(v2, 'secret'),
      '\n',
    ],
    i === 0,
  );
}
add(
  'k8s',
  [
    'apiVersion: v1\nkind: Secret\nmetadata:\n  name: api\nstringData:\n  config.json: ',
    S('{"endpoint":"x"}', 'secret'),
    '\n  api-key: ',
    S(str(24), 'secret'),
    '\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  LOG_LEVEL: debug\n',
  ],
  true,
);

add(
  'k8s',
  [
    'apiVersion: v1\ndata:\n  password: ',
    S(Buffer.from(str(14)).toString('base64'), 'password'),
    '\n  username: ',
    S(Buffer.from('admin').toString('base64'), 'secret'),
    '\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\ntype: Opaque\n',
  ],
  true,
);
add('token/google-oauth', [
  'GOOGLE_CLIENT_ID=1234-abc.apps.googleusercontent.com\nclient: ',
  S('GOCSPX-' + str(28, B64URL), 'google-oauth-secret'),
]);
add('token/google-oauth', [
  'gcloud auth print-access-token => ',
  S('ya29.' + str(120, B64URL), 'google-oauth-token'),
]);
add('token/discord-webhook', [
  'POST https://discord.com/api/webhooks/',
  str(18, DIG),
  '/',
  S(str(68, B64URL), 'discord-webhook'),
]);

add('curl', ['curl -u deploy:', S(str(18), 'password'), ' https://nexus.acme.io/repository/raw/'], true);
add('curl', ["curl --user 'ci-bot:", S(str(24), 'password'), "' -X POST https://jenkins.acme.io/job/build"]);
benign('benign/curl', 'curl -u deploy https://nexus.acme.io/ (prompts for the password)');

add('header', ['Cookie: sessionid=', S(str(32, ALNUM), 'high-entropy'), '; theme=dark; lang=en']);
add(
  'yaml',
  [
    'smtp:\n  host: mail.acme.io\n  password: |\n    ',
    S(str(20) + '\n    ' + str(12), 'password'),
    '\n  port: 587',
  ],
  true,
);

// 7. shell history.
add('shell', ['  512  export GITHUB_TOKEN=', S(tokens['github-token']!(), 'github-token')]);
add('shell', ['mysql -u root -p', S(str(12), 'password'), ' -h db.internal shop < dump.sql'], true);
add('shell', ['PGPASSWORD=', S(str(14), 'password'), ' psql -h db.internal -U app orders']);
add('shell', [
  'docker login -u ci -p ',
  S(tokens['dockerhub-token']!(), 'dockerhub-token'),
  ' registry.acme.io',
]);
add('shell', ['vault login ', S(tokens['vault-token']!(), 'vault-token')]);
add('shell', ['heroku config:set API_KEY=', S(str(32, HEXL), 'secret'), ' -a acme']);

// 8. benign look-alikes.
const sha = (n: number) => str(n, HEXL);
const uuid = () => `${sha(8)}-${sha(4)}-4${sha(3)}-a${sha(3)}-${sha(12)}`;
for (let i = 0; i < 8; i++)
  benign(
    'benign/git',
    `commit ${sha(40)}\nAuthor: Dev <dev@acme.io>\nDate:   Mon May 6 10:00:00 2024\n\n    fix: handle token refresh`,
    i < 2,
  );
for (let i = 0; i < 4; i++)
  benign('benign/git', `${sha(7)} Merge pull request #${100 + i} from acme/feature-x`);
for (let i = 0; i < 4; i++) benign('benign/git', `HEAD is now at ${sha(40)} bump version; tree ${sha(64)}`);
for (let i = 0; i < 6; i++)
  benign('benign/uuid', `request_id=${uuid()} trace_id=${uuid()} status=200 duration=12ms`, i < 2);
for (let i = 0; i < 5; i++)
  benign('benign/digest', `Pulling image ghcr.io/acme/api@sha256:${sha(64)}`, i === 0);
for (let i = 0; i < 3; i++)
  benign('benign/digest', `Digest: sha256:${sha(64)}\nStatus: Downloaded newer image for nginx:1.27`);
for (let i = 0; i < 4; i++)
  benign('benign/ssh', `ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ${str(300, B64)} deploy@ci`, i === 0);
benign('benign/ssh', `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${str(43, B64)} bob@laptop`);
benign('benign/pem', `-----BEGIN PUBLIC KEY-----\n${pemBody(4)}\n-----END PUBLIC KEY-----`, true);
benign('benign/pem', `-----BEGIN CERTIFICATE-----\n${pemBody(8)}\n-----END CERTIFICATE-----`, true);
benign(
  'benign/pem',
  `-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n${pemBody(5)}\n-----END PGP PUBLIC KEY BLOCK-----`,
);
benign('benign/pem', `-----BEGIN CERTIFICATE REQUEST-----\n${pemBody(3)}\n-----END CERTIFICATE REQUEST-----`);
for (let i = 0; i < 4; i++) benign('benign/lock', `      "integrity": "sha512-${str(86, B64)}==",`, i === 0);
benign('benign/lock', `      "resolved": "https://registry.npmjs.org/zod/-/zod-3.23.8.tgz",`);
for (let i = 0; i < 4; i++) benign('benign/checksum', `${sha(64)}  dropops-linux-amd64.tar.gz`);
benign('benign/checksum', `sha256sum: ${sha(64)}\nmd5: ${sha(32)}`);
const placeholders = [
  '********',
  '',
  '<redacted>',
  '${DB_PASSWORD}',
  '$SECRET',
  '{{ .Values.password }}',
  'xxxxxx',
  '<your-token-here>',
  'null',
  '[REDACTED]',
  'process.env.API_TOKEN',
  '***',
];
for (const p of placeholders) benign('benign/placeholder', `password: ${p}`, p === '********' || p === '');
for (const p of placeholders.slice(0, 8)) benign('benign/placeholder', `API_TOKEN=${p}`);
benign('benign/placeholder', 'DATABASE_URL=postgres://app:${DB_PASSWORD}@db.internal:5432/app');
benign('benign/placeholder', "token = os.getenv('GITHUB_TOKEN')");
const paths = [
  '/etc/ssl/private/server.key',
  '/run/secrets/db_password',
  '~/.ssh/id_rsa',
  './secrets/token.txt',
];
for (const p of paths) benign('benign/path', `secret_file: ${p}`);
for (const p of paths) benign('benign/path', `open("${p}") failed: ENOENT`);
benign('benign/path', 'password_file=/run/secrets/postgres-password');
benign(
  'benign/k8s',
  'NAME                          READY   STATUS    RESTARTS   AGE\napi-7d9f8b6c5d-x2k4q          1/1     Running   0          3d\nworker-5f6b7c8d9e-abcde       1/1     Running   2          3d',
  true,
);
benign('benign/k8s', 'secretName: api-tls-cert\nsecretKeyRef:\n  name: db-creds\n  key: password');
benign(
  'benign/k8s',
  'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  LOG_LEVEL: debug\n  FEATURE_FLAGS: a,b,c\n',
  true,
);
benign('benign/k8s', 'serviceAccountName: deployer\nimagePullSecrets:\n  - name: regcred');
for (let i = 0; i < 6; i++)
  benign(
    'benign/base64',
    `2024-05-01T12:00:0${i}Z DEBUG payload=${Buffer.from(str(48)).toString('base64')} size=64`,
    i === 0,
  );
for (let i = 0; i < 4; i++) benign('benign/base64', `data:image/png;base64,${str(120, B64)}=`);
const logs = [
  '2024-05-01 12:00:00,123 INFO  [main] c.a.Server - Started in 4.2s (port 8080)',
  'May  1 12:00:00 web01 sshd[2211]: Accepted publickey for deploy from 10.0.0.5 port 52144 ssh2: RSA SHA256:' +
    str(43, B64),
  'GET /api/v1/users?page=2&limit=50 200 12ms',
  'token refresh succeeded for user 42 (expires_in=3600)',
  'password reset email sent to user@example.com',
  'auth: true',
  'token_type: bearer',
  'max_tokens: 4096',
  'password_min_length: 12',
  'token_url: https://auth.acme.io/oauth/token',
  'Authorization header missing',
  'Using Basic Authentication for the proxy',
  'Bearer token expired, renewing',
  'npm WARN deprecated inflight@1.0.6: This module is not supported',
  'at Object.<anonymous> (/app/src/secret-manager.ts:42:13)',
  'the secret ingredient is love',
  'ERROR: relation "passwords" does not exist at character 15',
  'ssh://git@github.com:22/acme/repo.git',
  'https://user@example.com/path',
  'http://localhost:8080/health',
  'Connecting to redis://cache-01:6379/0',
  'mongodb://db1.acme.io:27017,db2.acme.io:27017/app?replicaSet=rs0',
  'server listening on 0.0.0.0:443 (tls: enabled)',
  'pk_live_' + str(24) + ' is the publishable key shown in the checkout page',
  'publishable_key: pk_test_' + str(24),
  'key: value',
  'cache_key=user:42:profile',
  'primary_key: id',
  'sort_key: created_at',
  'session: started',
  'csrf middleware enabled',
  'Keychain: login.keychain-db',
  'The quick brown fox jumps over the lazy dog 1234567890',
  'vitest v3.2.7 /work/main',
  'total 48\ndrwxr-xr-x  2 root root 4096 May  1 12:00 secrets\n-rw-------  1 root root  112 May  1 12:00 token.json',
  '12:30:45:67:89 frame sync',
  '00:1a:2b:3c:4d:5e link up',
  'build id: 20240501.3 sha ' + sha(40),
  'tokenizer: cl100k_base',
  'passwordless login enabled for group admins',
  'SELECT id, name FROM users WHERE auth_provider = $1',
  'etag: "' + sha(32) + '"',
  'X-Request-Id: ' + uuid(),
  'if (password.length < 8) throw new Error("too short");',
  'interface Login { user: string; password: string; }',
  'Set-Cookie: theme=dark; Path=/; HttpOnly',
  'skipping task-runner-0123456789abcdefghijk',
  'created ' + str(12, LO) + '-' + str(10, LO + DIG) + ' in namespace kube-system',
  'arn:aws:iam::123456789012:role/deploy',
  'AWS region eu-west-1, account 123456789012',
];
for (const l of logs) benign('benign/log', l, logs.indexOf(l) < 12);

const lines = cases.map((c) => JSON.stringify(c)).join('\n') + '\n';
writeFileSync(new URL('./corpus.jsonl', import.meta.url), lines);
console.log(`${cases.length} cases`);
