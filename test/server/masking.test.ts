import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tempRepo } from '../helpers/repo.js';
import { cubeLog, runToEnd } from '../helpers/runs.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';

const SECRET = 'Zq7Kp2Lm9Xw4Rt';

const CONFIG = `workflows:
  out:
    tasks:
      - name: t
        cubes:
          - name: c
            env: {MYSEC: "\${{ secrets.API_TOKEN }}"}
            script:
              - echo "OUT=$MYSEC" >> "$SOURCECRAFT_OUTPUT"
  long:
    tasks:
      - name: t
        cubes:
          - name: c
            env: {MYSEC: "\${{ secrets.API_TOKEN }}"}
            script:
              - python3 -c "import os,sys; s=os.environ['MYSEC']; sys.stdout.write(('x'*7+s)*40000); sys.stdout.flush()"
              - echo
`;

/** The probe's D4 (a secret in a line over 64 KiB) and D10 (outputs after the secret rotated). */
describe('secrets stay masked in long lines and in stored outputs', () => {
  let t: TestServer;

  before(async () => {
    t = await startTestServer();
    await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': CONFIG }));
    assert.equal(
      (await t.api('PUT', '/repos/acme/app/cicd/secrets/API_TOKEN', { value: SECRET })).status,
      204,
    );
  });
  after(async () => t.close());

  it('a secret repeated in a 640 KB line is masked everywhere (D4)', async () => {
    const run = await runToEnd(t, 'acme/app', 'long');
    assert.equal(run.status, 'success', JSON.stringify(run));
    // Shown in 64 KiB pieces: joined again before counting.
    const log = (await cubeLog(t, 'acme/app', run.slug, 'long/t/c')).replace(/\n/g, '');
    assert.equal(log.split(SECRET).length - 1, 0, 'no unmasked copy');
    assert.equal(log.split('***').length - 1, 40_000);
  });

  it('an output holding a secret stays masked after the secret is rotated or deleted (D10)', async () => {
    const run = await runToEnd(t, 'acme/app', 'out');
    assert.equal(run.workflows[0]?.tasks[0]?.cubes[0]?.outputs?.OUT, '***');
    const put = await t.api('PUT', '/repos/acme/app/cicd/secrets/API_TOKEN', { value: 'NewRotatedValue77' });
    assert.equal(put.status, 204);
    const after = await t.api('GET', `/repos/acme/app/cicd/runs/${run.slug}`);
    assert.doesNotMatch(JSON.stringify(after.body), new RegExp(SECRET));
    assert.equal((await t.api('DELETE', '/repos/acme/app/cicd/secrets/API_TOKEN')).status, 204);
    const listed = await t.api('GET', '/repos/acme/app/cicd/runs?page_size=5');
    assert.doesNotMatch(JSON.stringify(listed.body), new RegExp(SECRET));
  });
});
