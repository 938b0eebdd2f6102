import { TEST_IMAGE } from './cli.js';
import type { ActionHost } from './actions.js';

/**
 * A JavaScript action that exercises what GitHub's runner gives an action: inputs with defaults
 * (one an expression), the GITHUB_* files, workflow commands, state from pre to main to post.
 * With who=fail it reports an error annotation and exits 1.
 */
export const GREET = {
  'action.yml': `name: greet
description: says hello the way a Marketplace action would
inputs:
  who:
    description: whom to greet
    default: world
  node-version:
    description: a name with a hyphen, as setup-node has
    default: lts
  repo:
    default: \${{ github.repository }}
outputs:
  greeting:
    description: the greeting
runs:
  using: node20
  pre: pre.js
  main: index.js
  post: post.js
`,
  'pre.js': `require('fs').appendFileSync(process.env.GITHUB_STATE, 'from_pre=yes\\n');
console.log('pre ran');
`,
  'index.js': `const fs = require('fs');
const path = require('path');
const env = process.env;
const who = env.INPUT_WHO;
console.log(\`hello \${who} (node-version=\${env['INPUT_NODE-VERSION']}, repo=\${env.INPUT_REPO})\`);
console.log(\`workspace=\${env.GITHUB_WORKSPACE === process.cwd()} state=\${env.STATE_from_pre} actions=\${env.GITHUB_ACTIONS}\`);
const event = JSON.parse(fs.readFileSync(env.GITHUB_EVENT_PATH, 'utf8'));
console.log(\`event=\${env.GITHUB_EVENT_NAME} repository=\${event.repository.full_name} sha=\${env.GITHUB_SHA.length}\`);
console.log('::add-mask::masked-' + who);
console.log('the masked value is masked-' + who);
console.log('::group::Details');
console.log('inside the group');
console.log('::endgroup::');
console.log('::set-output name=legacy::from-set-output');
fs.appendFileSync(env.GITHUB_OUTPUT, \`greeting=hello \${who}\\nlines<<EOF\\none\\ntwo\\nEOF\\n\`);
fs.appendFileSync(env.GITHUB_ENV, 'FROM_ACTION=set-by-greet\\n');
fs.appendFileSync(env.GITHUB_STATE, 'from_main=yes\\n');
fs.appendFileSync(env.GITHUB_STEP_SUMMARY, '### Greeted ' + who + '\\n');
const bin = path.join(env.RUNNER_TEMP, 'greet-bin');
fs.mkdirSync(bin, { recursive: true });
fs.writeFileSync(path.join(bin, 'greet-tool'), '#!/bin/sh\\necho "greet-tool on PATH"\\n', { mode: 0o755 });
fs.appendFileSync(env.GITHUB_PATH, bin + '\\n');
if (who === 'fail') {
  console.log('::error file=src/app.js,line=12,col=3,title=Greeting::cannot greet fail');
  process.exit(1);
}
`,
  'post.js': `console.log(\`post ran: pre=\${process.env.STATE_from_pre} main=\${process.env.STATE_from_main}\`);
`,
};

/** A composite action that uses GREET, runs shell steps, and declares outputs from both. */
export const COMPOSITE = {
  'composite/action.yml': `name: composite
inputs:
  name:
    required: true
outputs:
  greeting:
    value: \${{ steps.hello.outputs.greeting }}
  x:
    value: \${{ steps.two.outputs.x }}
runs:
  using: composite
  steps:
    - id: hello
      uses: acme/greet@v1
      with:
        who: \${{ inputs.name }}
    - id: two
      name: Shell step
      shell: bash
      working-directory: sub
      env:
        SAID: \${{ steps.hello.outputs.greeting }}
      run: |
        echo "nested said $SAID in $(basename "$PWD") with FROM_ACTION=$FROM_ACTION"
        echo "x=\${{ inputs.name }}-x" >> "$GITHUB_OUTPUT"
    - name: Only on failure
      if: failure()
      shell: bash
      run: echo "this must not run"
    - name: Allowed to fail
      continue-on-error: true
      shell: sh
      run: exit 3
    - name: Script shipped with the action
      shell: bash
      run: bash "$GITHUB_ACTION_PATH/helper.sh" \${{ runner.os }}
    - name: An image as a step
      uses: docker://${TEST_IMAGE}
      with:
        entrypoint: /bin/sh
        args: -c 'echo "docker step in $(pwd)"'
`,
  'composite/helper.sh': 'echo "helper says $1"\n',
};

/** A docker action built from a Dockerfile on the local test image. */
export const DOCKER = {
  'action.yml': `name: docker-hello
inputs:
  who:
    default: docker
runs:
  using: docker
  image: Dockerfile
  args:
    - \${{ inputs.who }}
`,
  Dockerfile: `FROM ${TEST_IMAGE}
COPY entrypoint.sh /entrypoint.sh
ENTRYPOINT ["/bin/sh", "/entrypoint.sh"]
`,
  'entrypoint.sh': `echo "in the container: arg=$1 input=$INPUT_WHO pwd=$(pwd) ws=$GITHUB_WORKSPACE"
echo "said=hello $1" >> "$GITHUB_OUTPUT"
echo "written by the docker action" > "$GITHUB_WORKSPACE/from-container.txt"
`,
};

/** The three actions on `host`: acme/greet@v1, acme/toolkit/composite@v2, acme/docker-hello@v1. */
export function publishActions(host: ActionHost): void {
  host.publish('acme/greet', GREET, ['v1']);
  host.publish('acme/toolkit', COMPOSITE, ['v2']);
  host.publish('acme/docker-hello', DOCKER, ['v1']);
}
