package config

import "testing"

func TestParseModel(t *testing.T) {
	tests := []struct {
		name, id string
		want     Model
	}{
		{name: "base model", id: "anthropic.claude-3-5-sonnet-20240620-v1:0", want: Model{ID: "anthropic.claude-3-5-sonnet-20240620-v1:0", Kind: BaseModel}},
		{name: "system profile", id: "eu.anthropic.claude-sonnet-4-5-20250929-v1:0", want: Model{ID: "eu.anthropic.claude-sonnet-4-5-20250929-v1:0", Kind: SystemProfile, ProfileID: "eu.anthropic.claude-sonnet-4-5-20250929-v1:0", Geography: "eu"}},
		{name: "us-gov is not us", id: "us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0", want: Model{ID: "us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0", Kind: SystemProfile, ProfileID: "us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0", Geography: "us-gov"}},
		{name: "system profile ARN", id: "arn:aws:bedrock:us-east-1:111111111111:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0",
			want: Model{ID: "arn:aws:bedrock:us-east-1:111111111111:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0", Kind: SystemProfile, ProfileID: "global.anthropic.claude-sonnet-4-5-20250929-v1:0", Geography: "global", Region: "us-east-1", Account: "111111111111", Partition: "aws"}},
		{name: "application profile ARN", id: "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/a1b2c3d4e5f6",
			want: Model{ID: "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/a1b2c3d4e5f6", Kind: ApplicationProfile, Region: "us-east-1", Account: "111111111111", Partition: "aws"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseModel(tt.id)
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestServedFrom(t *testing.T) {
	tests := []struct {
		geography, region string
		want              bool
	}{
		{geography: "us", region: "us-east-1", want: true},
		{geography: "us", region: "ca-central-1", want: true},
		{geography: "eu", region: "us-east-1", want: false},
		{geography: "us", region: "eu-west-1", want: false},
		{geography: "us", region: "us-gov-west-1", want: false},
		{geography: "apac", region: "ap-northeast-1", want: true},
		{geography: "global", region: "eu-central-1", want: true},
		{geography: "eu", region: "sa-east-1", want: true}, // a geography not known here: cannot tell
	}
	for _, tt := range tests {
		if got := ServedFrom(tt.geography, tt.region); got != tt.want {
			t.Errorf("ServedFrom(%s, %s): got %v; want %v", tt.geography, tt.region, got, tt.want)
		}
	}
}
