// Command history serves account owners their audit history over a Lambda
// function URL with IAM authentication.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/grantwatch/grantwatch/pkg/historyapi"
)

func main() {
	h := historyapi.FromEnv(context.Background(), lambdacontext.NewLogger())
	lambda.Start(h.Handle)
}
