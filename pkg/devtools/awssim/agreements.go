package awssim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// The Bedrock writes grantwatch fix makes, and the offers it reads. Paths,
// methods, bodies and success statuses are those of the Bedrock API
// reference and the SDK's serializers (aws-sdk-go-v2 service/bedrock v1.63
// serializers.go): ledger BR-agreement-offers, BR-agreement-create,
// BR-agreement-delete, BR-form-put.
const (
	offersPath      = "/list-foundation-model-agreement-offers/"
	createAgreement = "/create-foundation-model-agreement"
	deleteAgreement = "/delete-foundation-model-agreement"
)

// DefaultRemediationRole is the member role whose sessions may make the
// writes, unless the scenario names another.
const DefaultRemediationRole = "GrantwatchRemediate"

// AgreementSettings says how the simulator answers the agreement and form
// writes.
type AgreementSettings struct {
	// Delay is how long a created agreement stays PENDING before it reads
	// AVAILABLE (observed: about two minutes; ledger BR-agreement-pending).
	Delay Duration `yaml:"delay"`
	// Role is the member role whose sessions hold the write permissions
	// (default GrantwatchRemediate); every other caller, the audit role
	// included, is denied them.
	Role string `yaml:"role"`
	// PrivateOffers are offer ids per model listed besides the public offer
	// when offerType is ALL, as private offers are (ledger
	// BR-agreement-offers).
	PrivateOffers map[string][]string `yaml:"private_offers"`
}

// noMarketplace are the providers whose models are not sold through AWS
// Marketplace and so have no agreement offer (AWS re:Post knowledge center,
// "bedrock-resolve-marketplace-permission": "Amazon, DeepSeek, Mistral AI,
// Meta, Qwen, and OpenAI, don't require AWS Marketplace permissions because
// these models aren't available in the AWS Marketplace"; ledger
// MP-not-sold-providers).
var noMarketplace = []string{"Amazon", "DeepSeek", "Mistral AI", "Meta", "Qwen", "OpenAI"}

// SoldThroughMarketplace reports whether a provider's models need a
// Marketplace agreement.
func SoldThroughMarketplace(provider string) bool {
	return !slices.ContainsFunc(noMarketplace, func(p string) bool { return strings.EqualFold(p, provider) })
}

// agreementKey is one account's agreement for one model: a Marketplace
// subscription is the account's, in every region, wherever it was made
// ("If an identity has already subscribed to a model in one AWS Region,
// the model becomes available ... in all AWS Regions"; ledger
// BR-agreement-account-wide).
type agreementKey struct{ account, model string }

// writes is what the Bedrock writes changed: the simulated service's state,
// kept apart from the scenario, which Update replaces.
type writes struct {
	mu         sync.Mutex
	agreements map[agreementKey]time.Time // created at
	deleted    map[agreementKey]bool
	forms      map[[2]string]bool // account, region
}

func newWrites() *writes {
	return &writes{agreements: map[agreementKey]time.Time{}, deleted: map[agreementKey]bool{}, forms: map[[2]string]bool{}}
}

// The agreement and form operations, which bedrockProtocol answers.
const (
	OpListFoundationModelAgreementOffers = "ListFoundationModelAgreementOffers"
	OpCreateFoundationModelAgreement     = "CreateFoundationModelAgreement"
	OpDeleteFoundationModelAgreement     = "DeleteFoundationModelAgreement"
	OpPutUseCaseForModelAccess           = "PutUseCaseForModelAccess"
)

// agreementOperation names the agreement and form operations; the GETs of
// bedrockProtocol.operation leave them out.
func agreementOperation(req *request) string {
	path := req.http.URL.EscapedPath()
	switch req.http.Method {
	case http.MethodGet:
		if strings.HasPrefix(path, offersPath) {
			return OpListFoundationModelAgreementOffers
		}
	case http.MethodPost:
		switch path {
		case createAgreement:
			return OpCreateFoundationModelAgreement
		case deleteAgreement:
			return OpDeleteFoundationModelAgreement
		case useCasePath:
			return OpPutUseCaseForModelAccess
		}
	}
	return ""
}

// serveAgreements answers the agreement and form operations and reports
// whether req was one of them.
func (s *Server) serveAgreements(p bedrockProtocol, w http.ResponseWriter, req *request) bool {
	var (
		out    any
		status int
		err    error
	)
	switch req.op {
	case OpListFoundationModelAgreementOffers:
		out, err = s.listOffers(req)
		status = http.StatusOK
	case OpCreateFoundationModelAgreement:
		out, err = s.createAgreement(req)
		status = http.StatusAccepted
	case OpDeleteFoundationModelAgreement:
		err = s.deleteAgreement(req)
		status = http.StatusAccepted
	case OpPutUseCaseForModelAccess:
		err = s.putUseCase(req)
		status = http.StatusCreated
	default:
		return false
	}
	if err == nil && req.op != OpListFoundationModelAgreementOffers {
		err = s.injectAfterWrite(req)
	}
	if err != nil {
		p.writeError(w, err)
		return true
	}
	if out == nil {
		// 201 and 202 "with an empty HTTP body" (API reference).
		w.WriteHeader(status)
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
	return true
}

// agreementModelID is the API reference's pattern for modelId in the
// agreement operations (length at most 140).
var agreementModelID = regexp.MustCompile(`^[a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([a-z0-9-]{1,63}[.]){0,2}[a-z0-9-]{1,63}([:][a-z0-9-]{1,63}){0,2}(/[a-z0-9]{12}|)$`)

func validModelID(id string) bool { return len(id) <= 140 && agreementModelID.MatchString(id) }

// offerToken is the opaque token of the one public offer of a model in a
// region. Real tokens are opaque too; this one encodes what it is for, so a
// token from another model or region is refused (ledger
// BR-agreement-bad-token, inferred).
func offerToken(model, region string) string {
	sum := sha256.Sum256([]byte("offer|" + model + "|" + region))
	return "sim-offer-" + base64.RawURLEncoding.EncodeToString(sum[:18])
}

// privateOfferToken is the token of a private offer, made as offerToken.
func privateOfferToken(model, region, id string) string {
	sum := sha256.Sum256([]byte("private-offer|" + model + "|" + region + "|" + id))
	return "sim-offer-" + base64.RawURLEncoding.EncodeToString(sum[:18])
}

// validOfferToken reports whether token is one of the model's offers in
// region: the public one or a private one.
func (s *Server) validOfferToken(m CatalogModel, region, token string) bool {
	if token == offerToken(m.ID, region) {
		return true
	}
	return slices.ContainsFunc(s.sc.Agreements.PrivateOffers[m.ID], func(id string) bool { return token == privateOfferToken(m.ID, region, id) })
}

func offerID(model string) string {
	sum := sha256.Sum256([]byte("offer-id|" + model))
	return "offer-" + hex.EncodeToString(sum[:10])
}

// listOffers answers ListFoundationModelAgreementOffers: one PUBLIC offer
// for a model sold through Marketplace, none for the others (inferred: the
// API reference does not say what a model without a Marketplace listing
// answers). offerType takes ALL or PUBLIC (API reference); ALL adds the
// scenario's private_offers of the model, listed before the public one
// (AWS documents no order); without offerType only the public one (the
// default is inferred). An unknown model gets 404
// ResourceNotFoundException, one of the operation's documented errors
// (which one AWS picks is inferred). Ledger BR-agreement-offers.
func (s *Server) listOffers(req *request) (any, error) {
	id, err := url.PathUnescape(strings.TrimPrefix(req.http.URL.EscapedPath(), offersPath))
	if err != nil || !validModelID(id) {
		return nil, validation("1 validation error detected: Value '%s' at 'modelId' failed to satisfy constraint: Member must satisfy regular expression pattern", id)
	}
	offerType := req.http.URL.Query().Get("offerType")
	if offerType != "" && offerType != "ALL" && offerType != "PUBLIC" {
		return nil, validation("1 validation error detected: Value '%s' at 'offerType' failed to satisfy constraint: Member must satisfy enum value set: [ALL, PUBLIC]", offerType)
	}
	m, ok := s.catalogModel(id)
	if !ok || !slices.Contains(m.Regions, req.region) {
		return nil, &apiError{status: 404, code: "ResourceNotFoundException", message: "The specified model " + id + " was not found."}
	}
	offers := []map[string]any{}
	if !SoldThroughMarketplace(m.Provider) {
		return map[string]any{"modelId": id, "offers": offers}, nil
	}
	if offerType == "ALL" {
		// Private offers first: AWS documents no order, and a client that
		// takes the first offer must not find the public one there by luck.
		for _, id := range s.sc.Agreements.PrivateOffers[m.ID] {
			offers = append(offers, map[string]any{
				"offerId":    id,
				"offerToken": privateOfferToken(m.ID, req.region, id),
				"termDetails": map[string]any{
					"usageBasedPricingTerm": map[string]any{"rateCard": []map[string]string{
						{"dimension": "input_tokens", "price": "0.0027", "description": "Price per 1,000 input tokens", "unit": "Units"},
					}},
					"legalTerm": map[string]string{"url": "https://aws.amazon.com/marketplace/private-offer/" + id},
				},
			})
		}
	}
	// The terms' values are illustrative; their shape is the API
	// reference's (termDetails: usageBasedPricingTerm.rateCard,
	// legalTerm.url, supportTerm, validityTerm).
	offers = append(offers, map[string]any{
		"offerId":    offerID(m.ID),
		"offerToken": offerToken(m.ID, req.region),
		"termDetails": map[string]any{
			"usageBasedPricingTerm": map[string]any{"rateCard": []map[string]string{
				{"dimension": "input_tokens", "price": "0.003", "description": "Price per 1,000 input tokens", "unit": "Units"},
				{"dimension": "output_tokens", "price": "0.015", "description": "Price per 1,000 output tokens", "unit": "Units"},
			}},
			"legalTerm":    map[string]string{"url": "https://aws.amazon.com/legal/bedrock/third-party-models/"},
			"supportTerm":  map[string]string{"refundPolicyDescription": "No refunds."},
			"validityTerm": map[string]string{"agreementDuration": "P100Y"},
		},
	})
	return map[string]any{"modelId": id, "offers": offers}, nil
}

// remediationCaller reports whether the caller is a session of the
// scenario's remediation role, the one role allowed the writes.
func (s *Server) remediationCaller(req *request) bool {
	_, rest, ok := strings.Cut(req.caller.ARN, ":assumed-role/")
	name, _, _ := strings.Cut(rest, "/")
	return ok && name == s.sc.remediationRole()
}

// notAllowed is the AccessDeniedException of a caller whose identity
// policies do not allow action, worded as Bedrock's implicit-deny answers
// are (public captures of bedrock:InvokeModel denials, e.g.
// BerriAI/litellm#14763; inferred for these operations). Ledger
// BR-agreement-denied.
func notAllowed(req *request, action string) error {
	return accessDenied("AccessDeniedException", fmt.Sprintf(
		"User: %s is not authorized to perform: %s because no identity-based policy allows the %s action", req.caller.ARN, action, action))
}

type createAgreementInput struct {
	ModelID    string `json:"modelId"`
	OfferToken string `json:"offerToken"`
}

// createAgreement answers CreateFoundationModelAgreement: 202 with the
// modelId (API reference), and the agreement reads PENDING at once and
// AVAILABLE after the scenario's delay (ledger BR-agreement-pending). The
// caller needs bedrock:CreateFoundationModelAgreement and the Marketplace
// permissions a subscription needs; without them AccessDeniedException
// (ledger MP-three-actions, BR-agreement-actions, BR-agreement-denied). A token that is not the model's
// offer in this region gets ValidationException; an agreement that exists
// already, ConflictException (both documented errors of the operation;
// when AWS picks them is inferred).
func (s *Server) createAgreement(req *request) (any, error) {
	var in createAgreementInput
	if err := json.Unmarshal(req.body, &in); err != nil {
		return nil, &apiError{status: 400, code: "SerializationException", message: "Could not parse the request body"} // ledger: PROTO-rest-json-envelope
	}
	switch {
	case !validModelID(in.ModelID):
		return nil, validation("1 validation error detected: Value '%s' at 'modelId' failed to satisfy constraint: Member must satisfy regular expression pattern", in.ModelID)
	case in.OfferToken == "":
		return nil, validation("1 validation error detected: Value null at 'offerToken' failed to satisfy constraint: Member must not be null")
	}
	if !s.remediationCaller(req) {
		return nil, notAllowed(req, "bedrock:CreateFoundationModelAgreement")
	}
	if a, ok := s.accounts[req.caller.Account]; ok && a.MarketplaceDenied {
		return nil, accessDenied("AccessDeniedException", fmt.Sprintf(
			"User: %s is not authorized to perform: aws-marketplace:Subscribe on resource: * with an explicit deny in a service control policy", req.caller.ARN))
	}
	m, ok := s.catalogModel(in.ModelID)
	if !ok || !slices.Contains(m.Regions, req.region) {
		return nil, &apiError{status: 404, code: "ResourceNotFoundException", message: "The specified model " + in.ModelID + " was not found."}
	}
	// A model not sold through Marketplace has no offer, so no token of
	// it is valid (ledger BR-agreement-bad-token, inferred).
	if !SoldThroughMarketplace(m.Provider) || !s.validOfferToken(m, req.region, in.OfferToken) {
		return nil, validation("The provided offer token is not valid for model %s.", in.ModelID)
	}
	if st := s.state(req.caller.Account, req.region, m); st.Agreement == "AVAILABLE" || st.Agreement == "PENDING" {
		return nil, &apiError{status: 400, code: "ConflictException", message: "An agreement for model " + in.ModelID + " already exists."}
	}
	k := agreementKey{req.caller.Account, m.ID}
	s.writes.mu.Lock()
	s.writes.agreements[k] = time.Now()
	delete(s.writes.deleted, k)
	s.writes.mu.Unlock()
	return map[string]string{"modelId": in.ModelID}, nil
}

// deleteAgreement answers DeleteFoundationModelAgreement: 202 with an
// empty body (API reference); the model reads NOT_AVAILABLE again. Without
// an agreement, 404 ResourceNotFoundException (inferred).
func (s *Server) deleteAgreement(req *request) error {
	var in struct {
		ModelID string `json:"modelId"`
	}
	if err := json.Unmarshal(req.body, &in); err != nil {
		return &apiError{status: 400, code: "SerializationException", message: "Could not parse the request body"}
	}
	if !validModelID(in.ModelID) {
		return validation("1 validation error detected: Value '%s' at 'modelId' failed to satisfy constraint: Member must satisfy regular expression pattern", in.ModelID)
	}
	if !s.remediationCaller(req) {
		return notAllowed(req, "bedrock:DeleteFoundationModelAgreement")
	}
	m, ok := s.catalogModel(in.ModelID)
	if !ok {
		return &apiError{status: 404, code: "ResourceNotFoundException", message: "The specified model " + in.ModelID + " was not found."}
	}
	if st := s.state(req.caller.Account, req.region, m); st.Agreement != "AVAILABLE" && st.Agreement != "PENDING" {
		return &apiError{status: 404, code: "ResourceNotFoundException", message: "No agreement exists for model " + in.ModelID + "."}
	}
	k := agreementKey{req.caller.Account, m.ID}
	s.writes.mu.Lock()
	delete(s.writes.agreements, k)
	s.writes.deleted[k] = true
	s.writes.mu.Unlock()
	return nil
}

// putUseCase answers PutUseCaseForModelAccess: 201 with an empty body; the
// form applies at once ("Access to the model is granted immediately after
// use case details are successfully submitted") and the management
// account's covers every member (Bedrock user guide, model access; ledger
// BR-form-put, BR-form-inherited). formData is a blob of 10 to 16384 bytes
// (API reference); that Bedrock refuses one that is not a JSON object is
// inferred from the reference's example, which is JSON.
func (s *Server) putUseCase(req *request) error {
	var in struct {
		FormData []byte `json:"formData"` // base64 in JSON, as the SDK sends it
	}
	if err := json.Unmarshal(req.body, &in); err != nil {
		return &apiError{status: 400, code: "SerializationException", message: "Could not parse the request body: formData must be base64"}
	}
	if n := len(in.FormData); n < 10 || n > 16384 {
		return validation("1 validation error detected: Value at 'formData' failed to satisfy constraint: Member must have length between 10 and 16384")
	}
	var form map[string]any
	if err := json.Unmarshal(in.FormData, &form); err != nil {
		return validation("The provided formData is not a valid use case form.")
	}
	if !s.remediationCaller(req) {
		return notAllowed(req, "bedrock:PutUseCaseForModelAccess")
	}
	s.writes.mu.Lock()
	s.writes.forms[[2]string{req.caller.Account, req.region}] = true
	s.writes.mu.Unlock()
	return nil
}

// formSubmitted reports whether PutUseCaseForModelAccess was called for
// the account in a way that covers region: in that very region when it is
// an opt-in region, else in any region that is not (the form covers the
// commercial regions, an opt-in region needs its own; ledger
// BR-form-opt-in-regions).
func (s *Server) formSubmitted(account, region string) bool {
	s.writes.mu.Lock()
	defer s.writes.mu.Unlock()
	optIn := s.sc.optIn(region)
	for k := range s.writes.forms {
		if k[0] == account && (k[1] == region || (!optIn && !s.sc.optIn(k[1]))) {
			return true
		}
	}
	return false
}

// withAgreement applies the writes to a model's resolved state in any
// region the model is offered in (the agreement is the account's, ledger
// BR-agreement-account-wide): a created agreement is PENDING until the
// delay has passed, then AVAILABLE, or ERROR with the account's
// agreement_fails message (ledger BR-agreement-error); a deleted one is
// NOT_AVAILABLE.
func (s *Server) withAgreement(account string, m CatalogModel, st ModelState) ModelState {
	k := agreementKey{account, m.ID}
	s.writes.mu.Lock()
	created, ok := s.writes.agreements[k]
	deleted := s.writes.deleted[k]
	s.writes.mu.Unlock()
	var fails string
	if a, found := s.accounts[account]; found {
		fails = a.AgreementFails
	}
	switch {
	case ok && time.Since(created) < time.Duration(s.sc.Agreements.Delay):
		st.Agreement, st.AgreementError = "PENDING", ""
	case ok && fails != "":
		st.Agreement, st.AgreementError = "ERROR", fails
	case ok:
		st.Agreement, st.AgreementError = "AVAILABLE", ""
	case deleted:
		st.Agreement, st.AgreementError = "NOT_AVAILABLE", ""
	}
	return st
}

// remediationRole is the role name sts accepts besides the audit role.
func (sc *Scenario) remediationRole() string {
	if sc.Agreements.Role == "" {
		return DefaultRemediationRole
	}
	return sc.Agreements.Role
}

// trusts reports whether the account has role and lets the auditor assume
// it: the audit role unless its role says deny or missing, the remediation
// role unless its remediation says missing.
func (sc *Scenario) trusts(a *Account, role string) bool {
	switch role {
	case sc.Role.Name:
		return a.Role != "missing" && a.Role != "deny"
	case sc.remediationRole():
		return a.Remediation != "missing"
	}
	return false
}
