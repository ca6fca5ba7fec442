import { randomBytes, randomUUID } from 'node:crypto';
import { DropOpsRole } from '@dropops/protocol';
import { z } from 'zod';
import type { Sql } from '../../db/database.ts';
import { RelayError } from '../../errors.ts';
import { hashSecret, verifySecret } from '../../security/scrypt.ts';

/** Passwords people choose get scrypt N=2^17 (OWASP's minimum for r=8, p=1). */
const PASSWORD_COST = 17;
/** A one-time password is 120 random bits, nothing to guess: the API keys' cost keeps every start quick. */
const ONE_TIME_COST = 15;

export const FIRST_ADMIN = 'admin';

export const NewPassword = z
  .string()
  .min(12, 'a password has at least 12 characters')
  .max(256, 'a password has at most 256 characters');

export interface LocalUser {
  id: string;
  username: string;
  org: string;
  roles: DropOpsRole[];
  mustChangePassword: boolean;
}

interface Row {
  id: string;
  username: string;
  org: string;
  roles: string[];
  password_hash: string;
  must_change_password: boolean;
}

const toUser = (row: Row): LocalUser => ({
  id: row.id,
  username: row.username,
  org: row.org,
  roles: row.roles.filter((role): role is DropOpsRole => DropOpsRole.safeParse(role).success),
  mustChangePassword: row.must_change_password,
});

// Checked against when a user name is unknown, so a wrong name costs as long as a wrong password.
let decoyHash: Promise<string> | undefined;

/** The embedded identity provider's accounts, in the relay's database. */
export class LocalUsers {
  constructor(private readonly sql: Sql) {}

  /**
   * Makes sure the first administrator exists. While nobody has signed in as `admin` yet, every start gives it
   * a fresh one-time password and returns it for the console to print; once changed, this returns undefined.
   */
  async ensureFirstAdmin(org: string): Promise<string | undefined> {
    const [existing] = await this.sql<Row[]>`SELECT * FROM local_users WHERE username = ${FIRST_ADMIN}`;
    if (existing && !existing.must_change_password) return undefined;
    const password = randomBytes(15).toString('base64url');
    const hash = await hashSecret(password, ONE_TIME_COST);
    if (existing) {
      await this.sql`
        UPDATE local_users SET password_hash = ${hash} WHERE id = ${existing.id} AND must_change_password`;
    } else {
      await this.sql`
        INSERT INTO local_users (id, username, org, roles, password_hash, must_change_password)
        VALUES (${randomUUID()}, ${FIRST_ADMIN}, ${org}, ${this.sql.array(['admin'])}, ${hash}, true)`;
    }
    return password;
  }

  /**
   * A new account with a one-time password, returned once: like the first administrator, the person must
   * choose their own at the first sign-in. ALREADY_EXISTS when the user name is taken.
   */
  async create(
    username: string,
    org: string,
    roles: readonly DropOpsRole[],
  ): Promise<{ user: LocalUser; oneTimePassword: string }> {
    const oneTimePassword = randomBytes(15).toString('base64url');
    const hash = await hashSecret(oneTimePassword, PASSWORD_COST);
    const [row] = await this.sql<Row[]>`
      INSERT INTO local_users (id, username, org, roles, password_hash, must_change_password)
      VALUES (${randomUUID()}, ${username}, ${org}, ${this.sql.array([...roles])}, ${hash}, true)
      ON CONFLICT (username) DO NOTHING RETURNING *`;
    if (!row) {
      throw new RelayError('ALREADY_EXISTS', `a user named "${username}" already exists; pick another name.`);
    }
    return { user: toUser(row), oneTimePassword };
  }

  async find(id: string): Promise<LocalUser | undefined> {
    if (!z.uuid().safeParse(id).success) return undefined;
    const [row] = await this.sql<Row[]>`SELECT * FROM local_users WHERE id = ${id}`;
    return row && toUser(row);
  }

  /** The user these credentials belong to, or null. */
  async verify(username: string, password: string): Promise<LocalUser | null> {
    const [row] = await this.sql<Row[]>`SELECT * FROM local_users WHERE username = ${username}`;
    decoyHash ??= hashSecret(randomBytes(16).toString('base64url'), PASSWORD_COST);
    const matches = await verifySecret(password, row?.password_hash ?? (await decoyHash));
    return row && matches ? toUser(row) : null;
  }

  async changePassword(id: string, password: string): Promise<void> {
    const hash = await hashSecret(NewPassword.parse(password), PASSWORD_COST);
    await this.sql`
      UPDATE local_users SET password_hash = ${hash}, must_change_password = false, password_changed_at = now()
      WHERE id = ${id}`;
  }
}
