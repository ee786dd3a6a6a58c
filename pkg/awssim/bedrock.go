package awssim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// bedrockProtocol is REST-JSON: the operation is in the method and path, errors
// carry their code in X-Amzn-ErrorType.
type bedrockProtocol struct{}

const availabilityPath = "/foundation-model-availability/"

func (bedrockProtocol) operation(req *request) string {
	path := req.http.URL.EscapedPath()
	switch {
	case req.http.Method == http.MethodGet && path == "/foundation-models":
		return OpListFoundationModels
	case req.http.Method == http.MethodGet && strings.HasPrefix(path, availabilityPath):
		return OpGetFoundationModelAvailability
	}
	return ""
}

func (p bedrockProtocol) serve(s *Server, w http.ResponseWriter, req *request) {
	if req.op == "" {
		p.writeError(w, &apiError{status: 404, code: "UnknownOperationException", message: "no such operation: " + req.http.Method + " " + req.http.URL.Path})
		return
	}
	account := req.caller.Account
	if a, ok := s.accounts[account]; ok && slices.Contains(a.DenyRegions, req.region) {
		p.writeError(w, accessDenied("AccessDeniedException", fmt.Sprintf(
			"User: %s is not authorized to perform: bedrock:%s with an explicit deny in a service control policy", req.caller.ARN, req.op)))
		return
	}
	var out any
	var err error
	switch req.op {
	case OpListFoundationModels:
		out, err = s.listFoundationModels(req)
	case OpGetFoundationModelAvailability:
		out, err = s.availability(req)
	}
	if err != nil {
		p.writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
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

func (s *Server) listFoundationModels(req *request) (any, error) {
	q := req.http.URL.Query()
	provider := q.Get("byProvider")
	if it := q.Get("byInferenceType"); it != "" && it != "ON_DEMAND" {
		return map[string]any{"modelSummaries": []modelSummary{}}, nil
	}
	summaries := []modelSummary{}
	for _, i := range s.sc.byRegion[req.region] {
		m := s.sc.Catalog[i]
		if provider != "" && !strings.EqualFold(provider, m.Provider) {
			continue
		}
		lifecycle := map[string]any{"status": "ACTIVE"}
		if m.Lifecycle == "LEGACY" {
			lifecycle = map[string]any{"status": "LEGACY", "legacyTime": "2025-06-01T00:00:00Z", "endOfLifeTime": time.Now().UTC().AddDate(0, 6, 0).Format("2006-01-02T00:00:00Z")}
		}
		summaries = append(summaries, modelSummary{
			ModelArn: "arn:aws:bedrock:" + req.region + "::foundation-model/" + m.ID,
			ModelID:  m.ID, ModelName: m.Name, ProviderName: m.Provider,
			InputModalities: []string{"TEXT"}, OutputModalities: []string{"TEXT"},
			ResponseStreamingSupported: true, CustomizationsSupported: []string{},
			InferenceTypesSupported: []string{"ON_DEMAND"}, ModelLifecycle: lifecycle,
		})
	}
	return map[string]any{"modelSummaries": summaries}, nil
}

type availabilityOutput struct {
	ModelID                 string            `json:"modelId"`
	AgreementAvailability   map[string]string `json:"agreementAvailability"`
	AuthorizationStatus     string            `json:"authorizationStatus"`
	EntitlementAvailability string            `json:"entitlementAvailability"`
	RegionAvailability      string            `json:"regionAvailability"`
}

func (s *Server) availability(req *request) (any, error) {
	id, err := url.PathUnescape(strings.TrimPrefix(req.http.URL.EscapedPath(), availabilityPath))
	if err != nil || id == "" || len(id) > 2048 {
		return nil, &apiError{status: 400, code: "ValidationException", message: "1 validation error detected: Value at 'modelId' failed to satisfy constraint"}
	}
	i := slices.IndexFunc(s.sc.Catalog, func(m CatalogModel) bool { return m.ID == id })
	if i < 0 {
		return nil, &apiError{status: 404, code: "ResourceNotFoundException", message: "The provided model identifier is invalid."}
	}
	st := s.state(req.caller.Account, req.region, id)
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
	if slices.Contains(s.sc.Catalog[i].Regions, req.region) {
		out.RegionAvailability = "AVAILABLE"
	}
	return out, nil
}

// state resolves an account's model state: its region's override, then its
// own, then the scenario's defaults, then all positive.
func (s *Server) state(account, region, model string) ModelState {
	st := ModelState{}
	if a, ok := s.accounts[account]; ok {
		st = a.Regions[region].Models[model].over(a.Models[model])
	}
	return st.over(s.sc.Defaults).over(ModelState{Agreement: "AVAILABLE", Authorization: "AUTHORIZED", Entitlement: "AVAILABLE"})
}

func (bedrockProtocol) writeError(w http.ResponseWriter, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		e = &apiError{status: 500, code: "InternalServerException", message: err.Error()}
	}
	writeRESTError(w, e.status, e.code, e.message)
}

func writeRESTError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": message})
}
