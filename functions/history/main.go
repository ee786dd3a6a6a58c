// Command history is the Lambda function behind the history URL: account
// owners read their own account's audit history over HTTPS, authenticated by
// IAM (SigV4); governance readers read any account's.
//
//	GET /history?account=ID&region=R&model=M&since=T&until=T&limit=N&page_token=X
//	GET /latest?account=ID
//
// account defaults to the caller's. The caller's account comes from the
// request context that Lambda filled in after verifying the signature, never
// from a parameter.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

func main() {
	h := FromEnv(context.Background(), lambdacontext.NewLogger())
	lambda.Start(h.Handle)
}
