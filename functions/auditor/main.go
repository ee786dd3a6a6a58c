// Command auditor is the scheduled grantwatch Lambda function.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/grantwatch/grantwatch/pkg/auditor"
)

func main() {
	h := auditor.FromEnv(context.Background(), lambdacontext.NewLogger())
	lambda.Start(h.Handle)
}
