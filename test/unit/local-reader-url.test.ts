/**
 * The local reader's password is derived from the administrator's login: the same login, with
 * its password in the URL or in PGPASSWORD (as printed remedies pass it), must give the same
 * reader password, or two starts on one server lock each other's reader out.
 */
import { describe, expect, it } from 'vitest';
import { localReaderUrl } from '../../scripts/local/reader-login.js';

const passwordOf = (url: string) => new URL(url).password;

describe('localReaderUrl', () => {
  it('derives the same password from a URL password and from PGPASSWORD', () => {
    const inUrl = localReaderUrl('postgresql://postgres:postgres@127.0.0.1:5433/a', undefined, {});
    const inEnv = localReaderUrl('postgresql://postgres@127.0.0.1:5433/b', undefined, { PGPASSWORD: 'postgres' });
    expect(passwordOf(inEnv)).toBe(passwordOf(inUrl));
  });

  it('derives another password for another administrator password, user or server', () => {
    const base = passwordOf(localReaderUrl('postgresql://postgres:postgres@127.0.0.1:5433/a', undefined, {}));
    expect(passwordOf(localReaderUrl('postgresql://postgres:other@127.0.0.1:5433/a', undefined, {}))).not.toBe(base);
    expect(passwordOf(localReaderUrl('postgresql://admin:postgres@127.0.0.1:5433/a', undefined, {}))).not.toBe(base);
    expect(passwordOf(localReaderUrl('postgresql://postgres:postgres@127.0.0.1:5434/a', undefined, {}))).not.toBe(base);
  });

  it('keeps the database and parameters, and names the reader', () => {
    const url = new URL(
      localReaderUrl('postgresql://postgres:pw@127.0.0.1:5433/app?schema=tenant', 'vpc_migrate_reader', {}),
    );
    expect([url.username, url.pathname, url.searchParams.get('schema')]).toEqual([
      'vpc_migrate_reader',
      '/app',
      'tenant',
    ]);
  });
});
