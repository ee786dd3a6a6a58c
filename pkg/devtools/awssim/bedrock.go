package awssim

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// bedrockProtocol is REST-JSON: the operation is in the method and path, errors
// carry their code in X-Amzn-ErrorType. Paths and query names are those of
// the Bedrock API reference and the SDK's serializers (aws-sdk-go-v2
// service/bedrock v1.63 serializers.go).
type bedrockProtocol struct{}

// The operations bedrockProtocol answers.
const (
	OpListFoundationModels           = "ListFoundationModels"
	OpGetFoundationModelAvailability = "GetFoundationModelAvailability"
	OpListInferenceProfiles          = "ListInferenceProfiles"
	OpGetInferenceProfile            = "GetInferenceProfile"
	OpGetUseCaseForModelAccess       = "GetUseCaseForModelAccess"
)

func (bedrockProtocol) operations() []string {
	return []string{OpListFoundationModels, OpGetFoundationModelAvailability, OpListInferenceProfiles, OpGetInferenceProfile, OpGetUseCaseForModelAccess,
		OpListFoundationModelAgreementOffers, OpCreateFoundationModelAgreement, OpDeleteFoundationModelAgreement, OpPutUseCaseForModelAccess}
}

const (
	availabilityPath = "/foundation-model-availability/"
	profilesPath     = "/inference-profiles"
	useCasePath      = "/use-case-for-model-access"
)

func (bedrockProtocol) operation(req *request) string {
	path := req.http.URL.EscapedPath()
	if op := agreementOperation(req); op != "" {
		return op
	}
	if req.http.Method != http.MethodGet {
		return ""
	}
	switch {
	case path == "/foundation-models":
		return OpListFoundationModels
	case strings.HasPrefix(path, availabilityPath):
		return OpGetFoundationModelAvailability
	case path == profilesPath:
		return OpListInferenceProfiles
	case strings.HasPrefix(path, profilesPath+"/"):
		return OpGetInferenceProfile
	case path == useCasePath:
		return OpGetUseCaseForModelAccess
	}
	return ""
}

func (p bedrockProtocol) serve(s *Server, w http.ResponseWriter, req *request) {
	if req.op == "" {
		p.writeError(w, &apiError{status: 404, code: "UnknownOperationException", message: "no such operation: " + req.http.Method + " " + req.http.URL.Path})
		return
	}
	account := req.caller.Account
	// ledger: BR-scp-deny
	if a, ok := s.accounts[account]; ok && slices.Contains(a.DenyRegions, req.region) {
		p.writeError(w, accessDenied("AccessDeniedException", fmt.Sprintf(
			"User: %s is not authorized to perform: bedrock:%s with an explicit deny in a service control policy", req.caller.ARN, req.op)))
		return
	}
	if s.serveAgreements(p, w, req) {
		return
	}
	var out any
	var err error
	switch req.op {
	case OpListFoundationModels:
		out, err = s.listFoundationModels(req)
	case OpGetFoundationModelAvailability:
		out, err = s.availability(req)
	case OpListInferenceProfiles:
		out, err = s.listInferenceProfiles(req)
	case OpGetInferenceProfile:
		out, err = s.getInferenceProfile(req)
	case OpGetUseCaseForModelAccess:
		out, err = s.useCaseForm(req)
	}
	if err != nil {
		p.writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// validation is Bedrock's 400 for a bad parameter, worded as AWS's
// validation errors are ("1 validation error detected: Value ... at '...'
// failed to satisfy constraint: ..."); the exact wording is inferred from
// other services' captures.
// ledger: BR-validation
func validation(format string, args ...any) *apiError {
	return &apiError{status: 400, code: "ValidationException", message: fmt.Sprintf(format, args...)}
}

type modelSummary struct {
	ModelArn                   string         `json:"modelArn"`
	ModelID                    string         `json:"modelId"`
	ModelName                  string         `json:"modelName"`
	ProviderName               string         `json:"providerName"`
	InputModalities            []string       `json:"inputModalities"`
	OutputModalities           []string       `json:"outputModalities"`
	ResponseStreamingSupported bool           `json:"responseStreamingSupported"`
	CustomizationsSupported    []string       `json:"customizationsSupported"`
	InferenceTypesSupported    []string       `json:"inferenceTypesSupported"`
	ModelLifecycle             map[string]any `json:"modelLifecycle"`
}

// listFoundationModels answers ListFoundationModels with the region's models.
// inferenceTypesSupported is per model: models served only through a
// profile answer ["INFERENCE_PROFILE"] (public capture in
// aws-samples/aws-genai-llm-chatbot#651, Nova Pro/Lite/Micro), though the
// SDK's InferenceType enum names only ON_DEMAND and PROVISIONED. The
// byInferenceType filter accepts exactly that enum (API reference,
// ListFoundationModels) and filters for real; byProvider matches the
// provider name.
// ledger: BR-list-models
func (s *Server) listFoundationModels(req *request) (any, error) {
	q := req.http.URL.Query()
	provider := q.Get("byProvider")
	inference := q.Get("byInferenceType")
	if inference != "" && inference != "ON_DEMAND" && inference != "PROVISIONED" {
		return nil, validation("1 validation error detected: Value '%s' at 'byInferenceType' failed to satisfy constraint: Member must satisfy enum value set: [ON_DEMAND, PROVISIONED]", inference)
	}
	summaries := []modelSummary{}
	for _, i := range s.sc.byRegion[req.region] {
		m := s.sc.Catalog[i]
		if provider != "" && !strings.EqualFold(provider, m.Provider) {
			continue
		}
		if inference != "" && !slices.Contains(m.InferenceTypes, inference) {
			continue
		}
		lifecycle := map[string]any{"status": "ACTIVE"}
		if m.Lifecycle == "LEGACY" {
			lifecycle = map[string]any{"status": "LEGACY", "legacyTime": "2025-06-01T00:00:00Z", "endOfLifeTime": time.Now().UTC().AddDate(0, 6, 0).Format("2006-01-02T00:00:00Z")}
		}
		summaries = append(summaries, modelSummary{
			ModelArn: modelARN(req.region, m.ID),
			ModelID:  m.ID, ModelName: m.Name, ProviderName: m.Provider,
			InputModalities: []string{"TEXT"}, OutputModalities: []string{"TEXT"},
			ResponseStreamingSupported: !m.NoStreaming, CustomizationsSupported: []string{},
			InferenceTypesSupported: m.InferenceTypes, ModelLifecycle: lifecycle,
		})
	}
	return map[string]any{"modelSummaries": summaries}, nil
}

func modelARN(region, id string) string {
	return "arn:aws:bedrock:" + region + "::foundation-model/" + id
}

type availabilityOutput struct {
	ModelID                 string            `json:"modelId"`
	AgreementAvailability   map[string]string `json:"agreementAvailability"`
	AuthorizationStatus     string            `json:"authorizationStatus"`
	EntitlementAvailability string            `json:"entitlementAvailability"`
	RegionAvailability      string            `json:"regionAvailability"`
}

// availability answers GetFoundationModelAvailability. An id Bedrock does
// not know, an inference profile id included, gets 400 ValidationException
// "The provided model identifier is invalid.", not 404: that is Bedrock's
// answer to an unknown model id in public captures (runtime:
// aws-samples/amazon-bedrock-workshop#315, GoogleCloudPlatform/kubectl-ai#515;
// the control plane's is reported in grantwatch issue 9 from a CLI capture;
// the same wording there is inferred).
// ledger: BR-availability, BR-availability-unknown-id
func (s *Server) availability(req *request) (any, error) {
	id, err := url.PathUnescape(strings.TrimPrefix(req.http.URL.EscapedPath(), availabilityPath))
	if err != nil || id == "" || len(id) > 140 {
		return nil, validation("1 validation error detected: Value at 'modelId' failed to satisfy constraint")
	}
	m, ok := s.catalogModel(id)
	if !ok {
		return nil, validation("The provided model identifier is invalid.")
	}
	st := s.state(req.caller.Account, req.region, m)
	out := availabilityOutput{
		ModelID:                 id,
		AgreementAvailability:   map[string]string{"status": st.Agreement},
		AuthorizationStatus:     st.Authorization,
		EntitlementAvailability: st.Entitlement,
		RegionAvailability:      "NOT_AVAILABLE",
	}
	if st.AgreementError != "" {
		out.AgreementAvailability["errorMessage"] = st.AgreementError
	}
	if slices.Contains(m.Regions, req.region) {
		out.RegionAvailability = "AVAILABLE"
	}
	return out, nil
}

func (s *Server) catalogModel(id string) (CatalogModel, bool) {
	i := slices.IndexFunc(s.sc.Catalog, func(m CatalogModel) bool { return m.ID == id })
	if i < 0 {
		return CatalogModel{}, false
	}
	return s.sc.Catalog[i], true
}

// state resolves an account's model state: its region's override, then its
// own, then the scenario's defaults, then all positive. An Anthropic model
// in an account without a use-case form (and none inherited) is
// NOT_AUTHORIZED unless the scenario says otherwise: the form is what
// authorizes Anthropic models (Bedrock user guide, "Access Amazon Bedrock
// foundation models"; that it shows as authorizationStatus is inferred).
// ledger: BR-form, CLS-not-authorized
func (s *Server) state(account, region string, m CatalogModel) ModelState {
	st := ModelState{}
	if a, ok := s.accounts[account]; ok {
		st = a.Regions[region].Models[m.ID].over(a.Models[m.ID])
	}
	base := ModelState{Agreement: "AVAILABLE", Authorization: "AUTHORIZED", Entitlement: "AVAILABLE"}
	if m.Provider == "Anthropic" && !s.hasUseCaseForm(account, region) {
		base.Authorization = "NOT_AUTHORIZED"
	}
	return s.withAgreement(account, m, st.over(s.sc.Defaults).over(base))
}

// hasUseCaseForm reports whether the account submitted the form or inherits
// the management account's, for region. "Submitting the form once from the
// management account covers the member accounts" is the Bedrock user
// guide's (model access, Anthropic); the simulator takes it literally. The
// form covers the commercial regions, but an opt-in region needs its own
// (same page; ledger: BR-form-opt-in-regions).
func (s *Server) hasUseCaseForm(account, region string) bool {
	if s.formSubmitted(account, region) || s.formSubmitted(s.sc.Organization.ManagementAccount, region) {
		return true
	}
	if s.sc.UseCaseForms == nil && s.sc.OptInUseCaseForms == nil {
		return true
	}
	forms := s.sc.UseCaseForms
	if s.sc.optIn(region) {
		forms = s.sc.OptInUseCaseForms[region]
	}
	return slices.Contains(forms, account) || slices.Contains(forms, s.sc.Organization.ManagementAccount)
}

// useCaseForm answers GetUseCaseForModelAccess: formData is base64 JSON
// (API reference: "Base64-encoded binary data object", length 10-16384;
// field names from the Terraform/Pulumi resource's example). Without a form
// it answers 404 ResourceNotFoundException, the one not-found error the API
// reference lists for the operation; the message is inferred.
// ledger: BR-form
func (s *Server) useCaseForm(req *request) (any, error) {
	if !s.hasUseCaseForm(req.caller.Account, req.region) {
		return nil, &apiError{status: 404, code: "ResourceNotFoundException", message: "No use case details have been submitted for this account."}
	}
	form, _ := json.Marshal(map[string]string{
		"companyName": "Simulated " + req.caller.Account, "companyWebsite": "https://example.com",
		"intendedUsers": "0", "industryOption": "Technology", "otherIndustryOption": "",
		"useCases": "Internal assistants",
	})
	return map[string]string{"formData": base64.StdEncoding.EncodeToString(form)}, nil
}

// profileJSON is an InferenceProfileSummary, and GetInferenceProfile's
// answer (API reference; timestamps as date-time strings, which the SDK
// parses with smithytime.ParseDateTime).
type profileJSON struct {
	InferenceProfileName string              `json:"inferenceProfileName"`
	Description          string              `json:"description,omitempty"`
	CreatedAt            string              `json:"createdAt"`
	UpdatedAt            string              `json:"updatedAt"`
	InferenceProfileArn  string              `json:"inferenceProfileArn"`
	Models               []map[string]string `json:"models"`
	InferenceProfileID   string              `json:"inferenceProfileId"`
	Status               string              `json:"status"`
	Type                 string              `json:"type"`
}

const profileCreated = "2025-09-29T00:00:00Z"

// profiles are the inference profiles the caller sees in the request's
// region, system-defined first, in scenario order.
func (s *Server) profiles(account, region string) (system, application []profileJSON) {
	for _, p := range s.sc.Profiles {
		if !slices.Contains(p.Sources, region) {
			continue
		}
		system = append(system, profileJSON{
			InferenceProfileName: p.Name, CreatedAt: profileCreated, UpdatedAt: profileCreated,
			// A system profile's ARN carries the caller's account (API
			// reference examples of GetInferenceProfile).
			InferenceProfileArn: fmt.Sprintf("arn:aws:bedrock:%s:%s:inference-profile/%s", region, account, p.ID),
			Models:              p.models(region),
			InferenceProfileID:  p.ID, Status: "ACTIVE", Type: "SYSTEM_DEFINED",
		})
	}
	if a, ok := s.accounts[account]; ok {
		for _, ap := range a.ApplicationProfiles {
			if ap.Region != region {
				continue
			}
			models := destinations(ap.CopyFrom, []string{region})
			if i := slices.IndexFunc(s.sc.Profiles, func(p Profile) bool { return p.ID == ap.CopyFrom }); i >= 0 {
				models = s.sc.Profiles[i].models(region)
			}
			application = append(application, profileJSON{
				InferenceProfileName: ap.Name, CreatedAt: profileCreated, UpdatedAt: profileCreated,
				InferenceProfileArn: fmt.Sprintf("arn:aws:bedrock:%s:%s:application-inference-profile/%s", region, account, ap.ID),
				Models:              models, InferenceProfileID: ap.ID, Status: "ACTIVE", Type: "APPLICATION",
			})
		}
	}
	return system, application
}

// models are the profile's models as ListInferenceProfiles lists them in
// source region: one ARN per destination region, or, for a global profile,
// the region-less one through which calls go anywhere, then the source
// region's (a public capture of us-east-1's answer lists them in this
// order; the global cross-Region inference page's policy allows exactly
// these two foundation-model ARNs besides the profile).
// ledger: BR-global-profile-models
func (p Profile) models(source string) []map[string]string {
	if p.Global() {
		return append([]map[string]string{{"modelArn": modelARN("", p.Model)}}, destinations(p.Model, []string{source})...)
	}
	return destinations(p.Model, p.Destinations)
}

func destinations(model string, regions []string) []map[string]string {
	out := make([]map[string]string, len(regions))
	for i, r := range regions {
		out[i] = map[string]string{"modelArn": modelARN(r, model)}
	}
	return out
}

// listInferenceProfiles answers ListInferenceProfiles a page at a time
// (maxResults 1-1000, API reference). A page holds at most the scenario's
// page size even when maxResults asks for more, since AWS list operations may
// return fewer items than maxResults with a nextToken (inferred for Bedrock
// from the general AWS pagination contract). type=SYSTEM_DEFINED or APPLICATION filters; without it only the
// system-defined profiles are listed, as the user guide's "use
// typeEquals APPLICATION to list application inference profiles" implies
// (inferred).
// ledger: BR-profiles
func (s *Server) listInferenceProfiles(req *request) (any, error) {
	q := req.http.URL.Query()
	size := s.sc.Pagination.PageSize
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, validation("1 validation error detected: Value '%s' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 1000", v)
		}
		size = min(n, size)
	}
	system, application := s.profiles(req.caller.Account, req.region)
	var all []profileJSON
	switch t := q.Get("type"); t {
	case "", "SYSTEM_DEFINED":
		all = system
	case "APPLICATION":
		all = application
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'typeEquals' failed to satisfy constraint: Member must satisfy enum value set: [SYSTEM_DEFINED, APPLICATION]", t)
	}
	start := 0
	if tok := q.Get("nextToken"); tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "ip-"))
		if err != nil || !strings.HasPrefix(tok, "ip-") || n < 0 || n > len(all) {
			return nil, validation("The provided nextToken is not valid.")
		}
		start = n
	}
	end := min(start+size, len(all))
	out := map[string]any{"inferenceProfileSummaries": append([]profileJSON{}, all[start:end]...)}
	if end < len(all) {
		out["nextToken"] = "ip-" + strconv.Itoa(end)
	}
	return out, nil
}

// getInferenceProfile answers GetInferenceProfile by id or ARN; an unknown
// one gets 404 ResourceNotFoundException (API reference's error list; the
// message is inferred).
// ledger: BR-profiles
func (s *Server) getInferenceProfile(req *request) (any, error) {
	id, err := url.PathUnescape(strings.TrimPrefix(req.http.URL.EscapedPath(), profilesPath+"/"))
	if err != nil || id == "" {
		return nil, validation("1 validation error detected: Value at 'inferenceProfileIdentifier' failed to satisfy constraint")
	}
	system, application := s.profiles(req.caller.Account, req.region)
	for _, p := range append(system, application...) {
		if id == p.InferenceProfileID || id == p.InferenceProfileArn {
			return p, nil
		}
	}
	return nil, &apiError{status: 404, code: "ResourceNotFoundException", message: "The specified inference profile " + id + " was not found."}
}

func (bedrockProtocol) writeError(w http.ResponseWriter, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		e = &apiError{status: 500, code: "InternalServerException", message: err.Error()}
	}
	writeRESTError(w, e.status, e.code, e.message)
}

// ledger: PROTO-rest-json-envelope
func writeRESTError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": message})
}
