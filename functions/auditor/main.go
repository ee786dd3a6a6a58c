// Command auditor is the scheduled grantwatch Lambda function: it reads the
// schedule event, runs the job (targets, checks, history, alerts) and returns
// the run's summary, with the run's metrics in its log. For a large
// organization the stack's state machine invokes it for each step of a
// sharded run instead (steps.go).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

func main() {
	h := FromEnv(context.Background(), lambdacontext.NewLogger())
	lambda.Start(h.Invoke)
}
