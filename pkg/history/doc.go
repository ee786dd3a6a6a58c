// Package history keeps grantwatch's audit history in one DynamoDB table.
//
// # Table design
//
// One table, key `pk` (S) and `sk` (S), one global secondary index `gsi1` on
// `gsi1pk` (S) and `gsi1sk` (S) that only run and findings items carry, and the TTL attribute `expires_at` (N, epoch
// seconds), which the stack enables (runtime code never calls UpdateTimeToLive).
//
//	item            pk                 sk                                   gsi1pk   gsi1sk
//	run             RUN#<run id>       RUN                                  RUNS     <started at>#<run id>
//	latest state    ACCOUNT#<account>  LATEST#<region>#<chunk>              -        -
//	history event   ACCOUNT#<account>  EVENT#<at>#<region>#<model>          -        -
//	batch           RUN#<run id>       BATCH#<number, 5 digits>             -        -
//	findings        ACCOUNT#<account>  FINDINGS#<region>                    FINDINGS <account>#<region>
//	sent record     RUN#<run id>       SENT#<batch number, 5 digits|FINISH> -        -
//
// Times are RFC 3339 in UTC with whole seconds, so they sort as strings.
//
//   - A run by id: GetItem RUN#<id>/RUN. It holds the state (RUNNING,
//     COMPLETE, INCOMPLETE, FAILED), the lease of the invocation working on it,
//     the attempts and the summary as JSON.
//   - The runs of a time range: Query gsi1 RUNS between two times.
//   - The latest state of an account's checks: Query ACCOUNT#<account> with
//     sk beginning LATEST#, or BatchGetItem per region (no index: one index
//     partition for every latest item would be a hot key nothing reads).
//     One item per account and region holds every model's state as a
//     map, split into chunks of at most 40 models, so that an item stays far
//     below DynamoDB's 400 KB whatever the number of models (40 models at the
//     1,000-character caps on cause and remediation is about 80 KB).
//   - The history of one account, newest first: Query ACCOUNT#<account>
//     between EVENT#<since> and EVENT#<until>, ScanIndexForward false, with a
//     filter on region and model; pages are DynamoDB pages behind an opaque
//     token. An event is written when a check's observed status changes (its
//     first observation included), at the run's scheduled time, so a retried
//     run writes the same keys again.
//   - The batches of a sharded run: Query RUN#<run id> with sk beginning
//     BATCH#. Each holds its accounts (with their OUs) and, once done, its
//     summary and the counts of its alerts, as JSON; the run's last step
//     reads them all. A batch is claimed by one invocation at a time with a
//     conditional write (owner, lease_until), marked done on condition that
//     it still holds it (phase DONE), or closed by Finish (phase CLOSED),
//     after which no invocation of it does anything.
//   - What a batch sent: GetItem RUN#<run id>/SENT#<batch>, each account
//     with alerts and a fingerprint of them; written after publishing and
//     before the history, so that a retry sends only what was not sent.
//     Finish's own alerts (batches that never finished) use SENT#FINISH.
//   - The Security Hub findings grantwatch created, of one account-region:
//     Query ACCOUNT#<account> with sk beginning FINDINGS#, or,
//     for a complete run that must find the accounts and regions it no
//     longer audits, Query gsi1 FINDINGS. Each keeps, per finding id, the
//     check, its last status, its first sighting (the finding's CreatedAt),
//     the workflow grantwatch set, and when it was archived; archived
//     entries stay a retention, so that a finding that comes back keeps its
//     CreatedAt. Written only when one changed or the item would expire.
//
// Every item expires `retention` after it was last written. SaveRun rewrites
// an account-region's latest-state items only when one of its states changed
// (when it was checked aside: the run record says that) or when they would
// otherwise expire within half the retention, so they live as long as the
// account is audited. A usable check's state leaves out the cause and
// remediation, the same generic texts for every such check.
//
// # Writes per run
//
// One conditional PutItem claims the run, BatchWriteItem calls of 25 items
// carry the events (one per changed check) and then the latest-state items
// of the account-regions that changed, and one UpdateItem finishes the run:
// at most changed/25 + account-regions/25 + 2 requests, plus retries of
// UnprocessedItems. With Security Hub on, the findings items of the
// account-regions whose findings changed (or would expire) follow, in
// BatchWriteItem calls of 25; the findings are read with one Query per
// account audited, or, after a complete run, one paged Query of gsi1.
// In the Lambda function the run's attempt also
// heartbeats: one UpdateItem of the run record every 5 s (a run of a
// minute, 12). A sharded run adds per batch a claim (UpdateItem), the done
// mark (PutItem) and, when the batch sent alerts, its sent record (one
// PutItem of about 30 bytes per account); and per run two UpdateItems of
// the run record by Finish (its claim, and the note that its digest went
// out).
package history
