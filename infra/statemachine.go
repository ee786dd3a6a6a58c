package main

import (
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	sfn "github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctionstasks"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/grantwatch/grantwatch/pkg/config"
)

// The state names of the sharded run; the local run of the synthesized
// definition (sharded_test.go) finds its Task states by them.
const (
	StateStart   = "Start"
	StateBatches = "AuditBatches"
	StateBatch   = "AuditBatch"
	StateFinish  = "Finish"
)

// newShardedRun defines the state machine of a sharded run (pkg/job,
// sharded.go): Start claims the run and records its accounts as batches in
// the history table; a Distributed Map hands the batch numbers to child
// executions, each invoking the auditor for one batch; Finish records the
// batches that never finished as audit errors, sends the digest and ends
// the run. The payloads carry ids and numbers only: a run of 10,000
// accounts in batches of 50 passes 200 numbers, far under 256 KB.
func newShardedRun(stack awscdk.Stack, s *Settings, fn awslambda.Function) sfn.StateMachine {
	invoke := func(id string, payload map[string]interface{}, timeout float64) awsstepfunctionstasks.LambdaInvoke {
		props := &awsstepfunctionstasks.LambdaInvokeProps{
			LambdaFunction: fn,
			// The function's answer is the state's result, and the
			// Resource is the function's ARN.
			PayloadResponseOnly: jsii.Bool(true),
			// An interpreter's default (60 s in aws-local-stepfunctions)
			// must not cut a step the function may take 15 minutes for.
			TaskTimeout: sfn.Timeout_Duration(awscdk.Duration_Seconds(jsii.Number(timeout))),
		}
		if payload != nil {
			props.Payload = sfn.TaskInput_FromObject(&payload)
		}
		return awsstepfunctionstasks.NewLambdaInvoke(stack, jsii.String(id), props)
	}
	retry := func(attempts float64) *sfn.RetryProps {
		return &sfn.RetryProps{Errors: jsii.Strings("States.ALL"), MaxAttempts: jsii.Number(attempts),
			Interval: awscdk.Duration_Seconds(jsii.Number(20)), BackoffRate: jsii.Number(2), JitterStrategy: sfn.JitterType_FULL}
	}
	fnTimeout := 15 * 60.0

	start := invoke(StateStart, map[string]interface{}{
		"step": "start", "input": sfn.JsonPath_EntirePayload(), "execution": sfn.JsonPath_StringAt(jsii.String("$$.Execution.Id")),
	}, fnTimeout)
	// The execution owns the run: a retried Start finds it its own.
	start.AddRetry(retry(3))

	batch := invoke(StateBatch, nil, fnTimeout)
	// Only numbers go back to the map, so its results stay small.
	batch.AddRetry(retry(2))
	// A batch that fails every attempt does not fail the run: Finish finds
	// it not done and records its accounts as audit errors.
	batch.AddCatch(sfn.NewPass(stack, jsii.String("BatchGaveUp"), &sfn.PassProps{
		Comment: jsii.String("Finish records this batch's accounts as audit errors."),
	}), &sfn.CatchProps{Errors: jsii.Strings("States.ALL"), ResultPath: jsii.String("$.error")})

	batches := sfn.NewDistributedMap(stack, jsii.String(StateBatches), &sfn.DistributedMapProps{
		ItemsPath: sfn.JsonPath_StringAt(jsii.String("$.batches")),
		ItemSelector: &map[string]interface{}{
			"step":           "batch",
			"run_id":         sfn.JsonPath_StringAt(jsii.String("$.run_id")),
			"scheduled_time": sfn.JsonPath_StringAt(jsii.String("$.scheduled_time")),
			"batch":          sfn.JsonPath_StringAt(jsii.String("$$.Map.Item.Value")),
		},
		MaxConcurrency:   jsii.Number(float64(s.MapConcurrency)),
		MapExecutionType: sfn.StateMachineType_STANDARD,
		Label:            jsii.String("batch"),
		// What each batch found is in the history table; the map's output
		// is dropped and Finish reads the state's input.
		ResultPath: sfn.JsonPath_DISCARD(),
	})
	batches.ItemProcessor(batch, &sfn.ProcessorConfig{Mode: sfn.ProcessorMode_DISTRIBUTED, ExecutionType: sfn.ProcessorType_STANDARD})

	finish := invoke(StateFinish, map[string]interface{}{
		"step": "finish", "run_id": sfn.JsonPath_StringAt(jsii.String("$.run_id")),
		"scheduled_time": sfn.JsonPath_StringAt(jsii.String("$.scheduled_time")),
		"execution":      sfn.JsonPath_StringAt(jsii.String("$$.Execution.Id")),
		"planning":       sfn.JsonPath_ObjectAt(jsii.String("$.planning")),
	}, fnTimeout)
	finish.AddRetry(retry(3))

	definition := start.Next(sfn.NewChoice(stack, jsii.String("Claimed"), nil).
		When(sfn.Condition_BooleanEquals(jsii.String("$.proceed"), jsii.Bool(true)), batches.Next(finish), nil).
		Otherwise(sfn.NewSucceed(stack, jsii.String("AlreadyHandled"), &sfn.SucceedProps{
			Comment: jsii.String("Another execution has the run, or it is done: a second delivery of the schedule."),
		})))

	logs := awslogs.NewLogGroup(stack, jsii.String("ShardedRunLogs"), &awslogs.LogGroupProps{
		Retention: s.LogRetention, RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	sm := sfn.NewStateMachine(stack, jsii.String("ShardedRun"), &sfn.StateMachineProps{
		Comment:          jsii.String("grantwatch: one scheduled run of a large organization, in batches of " + strconv.Itoa(s.BatchAccounts) + " accounts"),
		DefinitionBody:   sfn.DefinitionBody_FromChainable(definition),
		StateMachineType: sfn.StateMachineType_STANDARD,
		Timeout:          awscdk.Duration_Seconds(jsii.Number(config.ShardedRunTimeout.Seconds())),
		TracingEnabled:   jsii.Bool(true),
		Logs:             &sfn.LogOptions{Destination: logs, Level: sfn.LogLevel_ALL, IncludeExecutionData: jsii.Bool(false)},
	})
	// The Distributed Map's child executions run under
	// stateMachine:NAME/LABEL:ID (ledger: SFN-child-execution-arn): the
	// documented policy for a Distributed Map grants describing and
	// stopping them on execution:NAME/* (ledger: SFN-distributed-map-policy).
	// CDK's own grant names execution:NAME:*, the parent's executions only.
	// A policy of its own: the state machine waits for its role's default
	// policy, which therefore cannot name the state machine's ARN.
	children := awsiam.NewPolicy(stack, jsii.String("ShardedRunChildExecutions"), &awsiam.PolicyProps{
		Roles: &[]awsiam.IRole{sm.Role()},
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ChildExecutions"),
			Actions:   jsii.Strings(ChildExecutionActions...),
			Resources: jsii.Strings(*childExecutions(stack, sm)),
		})},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(children, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"), AppliesTo: &[]interface{}{map[string]interface{}{"regex": "/^Resource::arn:<AWS::Partition>:states:.*:execution:.*\\/\\*$/"}},
		Reason: jsii.String("The Distributed Map's child executions are made at run time under this state machine's name (execution:NAME/LABEL:ID); the grant is limited to them, as the Step Functions guide's policy for Distributed Map states is."),
	}}, jsii.Bool(true))
	fnARN := "Resource::<" + *stack.GetLogicalId(fn.Node().DefaultChild().(awscdk.CfnElement)) + ".Arn>:*"
	cdknag.NagSuppressions_AddResourceSuppressions(sm, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-IAM5"), AppliesTo: &[]interface{}{fnARN},
			Reason: jsii.String("CDK's grant to invoke the auditor covers its versions and aliases (ARN:*); all of them are this one function.")},
		{Id: jsii.String("AwsSolutions-IAM5"), AppliesTo: &[]interface{}{"Resource::*"},
			Reason: jsii.String("X-Ray tracing and CloudWatch Logs delivery (xray:PutTraceSegments, logs:CreateLogDelivery and the like) support no resource-level permissions.")},
		{Id: jsii.String("AwsSolutions-IAM5"), AppliesTo: &[]interface{}{map[string]interface{}{"regex": "/^Resource::arn:<AWS::Partition>:states:.*:execution:.*:\\*$/"}},
			Reason: jsii.String("The Distributed Map describes and stops its own child executions, whose ARNs are made at run time under this state machine's name.")},
	}, jsii.Bool(true))
	return sm
}

// ChildExecutionActions are what the Distributed Map's documented policy
// grants on its child executions.
var ChildExecutionActions = []string{"states:DescribeExecution", "states:StopExecution"}

// childExecutions is every child execution of the state machine's
// Distributed Maps: execution:NAME/*, NAME read from the state machine's
// ARN (arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME).
func childExecutions(stack awscdk.Stack, sm sfn.StateMachine) *string {
	name := stack.SplitArn(sm.StateMachineArn(), awscdk.ArnFormat_COLON_RESOURCE_NAME).ResourceName
	return stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("states"), Resource: jsii.String("execution"),
		ResourceName: jsii.String(*name + "/*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})
}
