// Runs an Amazon States Language definition with aws-local-stepfunctions,
// an independent interpreter, for grantwatch's tests: every Task state whose
// Resource is a Lambda function ARN is invoked by POSTing its input to
// INVOKE_URL (the Go test's stand-in for the Lambda Invoke API, which runs
// the real function binary), and a function error becomes the state's
// error, named by its errorType, as Step Functions names a Lambda
// function's error. Retry intervals shrink to RETRY_MS so a test of
// retries does not wait minutes.
//
// usage: node stepfunctions.mjs <definition.json> <input.json>
// prints the execution's output as JSON; exits 1 with the error on stderr.
import { readFileSync } from 'node:fs';
import { StateMachine } from 'aws-local-stepfunctions';

// The interpreter calls Promise.withResolvers (Node 22 and later); this
// machine's Node 20 lacks it.
Promise.withResolvers ??= function withResolvers() {
  let resolve, reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

const [definitionFile, inputFile] = process.argv.slice(2);
const definition = JSON.parse(readFileSync(definitionFile, 'utf8'));
const input = JSON.parse(readFileSync(inputFile, 'utf8'));
const invokeURL = process.env.INVOKE_URL;
const retryMs = Number(process.env.RETRY_MS ?? '10');

const taskResourceLocalHandlers = {};
const retryIntervalOverrides = {};
// walk visits every state, nested ones (Map processors, Parallel branches) too.
function walk(states) {
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Task' && /^arn:[^:]+:lambda:/.test(state.Resource)) {
      taskResourceLocalHandlers[name] = async (payload) => {
        const res = await fetch(invokeURL + '?state=' + encodeURIComponent(name), {
          method: 'POST',
          body: JSON.stringify(payload),
        });
        const body = await res.text();
        if (res.status !== 200 || res.headers.get('x-amz-function-error')) {
          let errorType = 'Lambda.Unknown', errorMessage = body;
          try {
            ({ errorType = errorType, errorMessage = body } = JSON.parse(body));
          } catch {}
          const err = new Error(errorMessage);
          err.name = errorType;
          throw err;
        }
        return JSON.parse(body);
      };
    }
    if (state.Retry) retryIntervalOverrides[name] = retryMs;
    const processor = state.ItemProcessor ?? state.Iterator;
    if (processor) walk(processor.States);
    for (const branch of state.Branches ?? []) walk(branch.States);
  }
}
walk(definition.States);

try {
  const machine = new StateMachine(definition);
  const execution = machine.run(input, {
    overrides: { taskResourceLocalHandlers, retryIntervalOverrides },
    context: { Execution: { Id: process.env.EXECUTION_ID ?? 'local-execution', Input: input, StartTime: new Date().toISOString() } },
  });
  const output = await execution.result;
  process.stdout.write(JSON.stringify(output) + '\n');
} catch (err) {
  process.stderr.write(`${err.name}: ${err.message}\n`);
  process.exit(1);
}
