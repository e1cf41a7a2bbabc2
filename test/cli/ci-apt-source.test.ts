// .ci/run takes the backports mirror from the machine's own apt sources
// (.ci/apt-source), in the one-line and the deb822 format, and names no host itself.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const work = mkdtempSync(join(tmpdir(), 'bl-apt-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

/** A directory standing for / with the given apt files; .ci/apt-source's answer for it. */
function source(files: Record<string, string>) {
  const root = mkdtempSync(join(work, 'root-'));
  mkdirSync(join(root, 'etc/apt/sources.list.d'), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root, 'etc/apt', name), text);
  return spawnSync('.ci/apt-source', ['bookworm', 'bookworm-backports', root], { encoding: 'utf8' });
}

test('deb822 (.sources): the URI and key of the stanza that lists the suite; comments and other stanzas skipped', () => {
  const r = source({
    'sources.list.d/debian.sources': [
      'Types: deb', '# a snapshot, commented out', 'URIs: file:///srv/mirror/debian', 'Suites: bookworm bookworm-updates', 'Components: main', 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg', '',
      'Types: deb', 'URIs: file:///srv/mirror/debian-security', 'Suites: bookworm-security', 'Components: main', '',
    ].join('\n'),
    'sources.list.d/other.sources': 'Types: deb\nURIs: file:///srv/other\nSuites: nodistro\nComponents: main\n',
  });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] file:///srv/mirror/debian bookworm-backports main\n');
});

test('one-line (sources.list): options in brackets, deb-src and other suites skipped; a disabled stanza is not used', () => {
  const r = source({
    'sources.list': '# deb file:///srv/old bookworm main\ndeb-src file:///srv/src bookworm main\ndeb file:///srv/sec bookworm-security main\ndeb [arch=amd64 signed-by=/k.gpg] file:///srv/mirror/debian bookworm main contrib\n',
    'sources.list.d/off.sources': 'Enabled: no\nTypes: deb\nURIs: file:///srv/off\nSuites: bookworm\n',
  });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'deb [signed-by=/k.gpg] file:///srv/mirror/debian bookworm-backports main\n');
});

test('no source for the suite: exit 1 with a line saying so', () => {
  const r = source({ 'sources.list': 'deb file:///srv/x trixie main\n' });
  assert.is(r.status, 1);
  assert.match(r.stderr, /no apt source for bookworm/);
});

test('.ci/run and .ci/apt-source name no host', () => {
  for (const file of ['.ci/run', '.ci/apt-source']) assert.not.match(readFileSync(file, 'utf8'), /[a-z]+:\/\/[a-z0-9.-]+\.[a-z]{2,}/i, file);
});

test.run();
