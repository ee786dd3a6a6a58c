package job

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	securityhubapi "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/grantwatch/grantwatch/pkg/awssim"
	"github.com/grantwatch/grantwatch/pkg/securityhub"
)

// fakeHub records the findings imported and the workflows set.
type fakeHub struct {
	imported []types.AwsSecurityFinding
	resolved []string
}

func (h *fakeHub) BatchImportFindings(_ context.Context, in *securityhubapi.BatchImportFindingsInput, _ ...func(*securityhubapi.Options)) (*securityhubapi.BatchImportFindingsOutput, error) {
	h.imported = append(h.imported, in.Findings...)
	return &securityhubapi.BatchImportFindingsOutput{SuccessCount: aws.Int32(int32(len(in.Findings)))}, nil
}

func (h *fakeHub) BatchUpdateFindings(_ context.Context, in *securityhubapi.BatchUpdateFindingsInput, _ ...func(*securityhubapi.Options)) (*securityhubapi.BatchUpdateFindingsOutput, error) {
	for _, id := range in.FindingIdentifiers {
		h.resolved = append(h.resolved, aws.ToString(id.Id))
	}
	return &securityhubapi.BatchUpdateFindingsOutput{}, nil
}

// A stored run sends a finding per not-usable check and audit error; a
// check usable again archives its finding and resolves its workflow.
func TestRunsSendSecurityHubFindings(t *testing.T) {
	f := setup(t)
	hub := &fakeHub{}
	f.job.hub = &Hub{API: hub, Source: securityhub.Source{Account: "999999999999", Region: "us-east-1", Partition: "aws"}}

	out := f.run(t, t0)
	s := out.Report.Summary
	if want := s.NotUsable + s.AuditErrs; len(hub.imported) != want || out.FindingsImported != want || out.SecurityHubError != "" {
		t.Fatalf("run 1: got %d findings (%d counted, %q); want one per not-usable check and audit error, %d", len(hub.imported), out.FindingsImported, out.SecurityHubError, want)
	}
	first := map[string]string{}
	for _, fnd := range hub.imported {
		first[aws.ToString(fnd.Id)] = aws.ToString(fnd.CreatedAt)
		if fnd.RecordState != types.RecordStateActive {
			t.Errorf("run 1: %s is %s", aws.ToString(fnd.Id), fnd.RecordState)
		}
	}

	// 333 submits the Anthropic form: its Claude checks are usable again.
	if err := f.sim.Update(func(sc *awssim.Scenario) { sc.UseCaseForms = append(sc.UseCaseForms, "333333333333") }); err != nil {
		t.Fatal(err)
	}
	hub.imported = nil
	f.run(t, t0.Add(time.Hour))
	var archived []string
	for _, fnd := range hub.imported {
		id := aws.ToString(fnd.Id)
		if fnd.RecordState == types.RecordStateArchived {
			archived = append(archived, id)
			continue
		}
		if created, ok := first[id]; ok && aws.ToString(fnd.CreatedAt) != created {
			t.Errorf("run 2: %s created %s; want the first sighting, %s", id, aws.ToString(fnd.CreatedAt), created)
		}
	}
	slices.Sort(archived)
	if len(archived) != 3 || !strings.Contains(archived[0], "333333333333") || !slices.Equal(archived, sorted(hub.resolved)) {
		t.Errorf("run 2: archived %v, resolved %v; want the three Claude checks of 333333333333, both", archived, hub.resolved)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
