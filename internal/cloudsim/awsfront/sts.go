package awsfront

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// STS AssumeRoleWithWebIdentity, the exchange behind web identity
// credentials (AWS_WEB_IDENTITY_TOKEN_FILE, Terraform Cloud dynamic
// provider credentials): an unsigned query request (Version 2011-06-15)
// with RoleArn, RoleSessionName and WebIdentityToken, answered with
// temporary credentials
// (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html).
// The checks are the API's own: required parameters and their lengths
// and patterns, DurationSeconds in 900–43200, and a token that is a JWT
// whose payload has sub and aud and is not expired (InvalidIdentityToken,
// ExpiredTokenException otherwise). Trust (the IAM OIDC identity provider
// and the role's trust policy) is not modelled: any well-formed token
// gets credentials, whose access key starts with ASIA as AWS's
// temporary keys do.

const stsNS = "https://sts.amazonaws.com/doc/2011-06-15/"

var (
	roleARNPattern     = regexp.MustCompile(`^arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]{1,64}$`)
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

type stsCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumeRoleWithWebIdentityResponse struct {
	XMLName     xml.Name       `xml:"AssumeRoleWithWebIdentityResponse"`
	Xmlns       string         `xml:"xmlns,attr"`
	Subject     string         `xml:"AssumeRoleWithWebIdentityResult>SubjectFromWebIdentityToken"`
	Audience    string         `xml:"AssumeRoleWithWebIdentityResult>Audience"`
	RoleUserArn string         `xml:"AssumeRoleWithWebIdentityResult>AssumedRoleUser>Arn"`
	RoleUserID  string         `xml:"AssumeRoleWithWebIdentityResult>AssumedRoleUser>AssumedRoleId"`
	Credentials stsCredentials `xml:"AssumeRoleWithWebIdentityResult>Credentials"`
	Provider    string         `xml:"AssumeRoleWithWebIdentityResult>Provider"`
	RequestID   string         `xml:"ResponseMetadata>RequestId"`
}

func (s *server) serveSTS(w http.ResponseWriter, r *http.Request) {
	reqID := s.requestID()
	fail := func(status int, code, msg string) {
		writeXML(w, status, iamErrorResponse{Xmlns: stsNS, Type: "Sender", Code: code, Message: msg, RequestID: reqID})
	}
	if a := r.Form.Get("Action"); a != "AssumeRoleWithWebIdentity" {
		fail(400, "InvalidAction", fmt.Sprintf("Could not find operation %s for version 2011-06-15", a))
		return
	}
	roleARN, session, token := r.Form.Get("RoleArn"), r.Form.Get("RoleSessionName"), r.Form.Get("WebIdentityToken")
	switch {
	case roleARN == "" || session == "" || token == "":
		fail(400, "ValidationError", "1 validation error detected: RoleArn, RoleSessionName and WebIdentityToken are required")
		return
	case !roleARNPattern.MatchString(roleARN):
		fail(400, "ValidationError", fmt.Sprintf("%s is invalid: a role ARN is arn:aws:iam::<account>:role/<name>", roleARN))
		return
	case !sessionNamePattern.MatchString(session):
		fail(400, "ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", session))
		return
	case len(token) < 4 || len(token) > 20000:
		fail(400, "ValidationError", "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length between 4 and 20000")
		return
	}
	duration := int64(3600)
	if d := r.Form.Get("DurationSeconds"); d != "" {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil || n < 900 || n > 43200 {
			fail(400, "ValidationError", fmt.Sprintf("The requested DurationSeconds %s is outside 900-43200", d))
			return
		}
		duration = n
	}
	claims, err := cloudsim.ParseJWT(token)
	if err != nil {
		fail(400, "InvalidIdentityToken", err.Error())
		return
	}
	now := s.now()
	if claims.Expires != 0 && time.Unix(claims.Expires, 0).Before(now) {
		fail(400, "ExpiredTokenException", "Token expired")
		return
	}
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	account := strings.Split(roleARN, ":")[4]
	roleName := roleARN[strings.LastIndex(roleARN, "/")+1:]
	writeXML(w, http.StatusOK, assumeRoleWithWebIdentityResponse{Xmlns: stsNS, Subject: claims.Subject, Audience: claims.FirstAudience(),
		RoleUserArn: fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", account, roleName, session),
		RoleUserID:  fmt.Sprintf("AROA%017X:%s", n, session), Provider: claims.Issuer,
		Credentials: stsCredentials{AccessKeyID: fmt.Sprintf("ASIASIM%013X", n), SecretAccessKey: fmt.Sprintf("simulated-secret-%d", n),
			SessionToken: fmt.Sprintf("simulated-session-%d-%s", n, session),
			Expiration:   now.Add(time.Duration(duration) * time.Second).UTC().Format(time.RFC3339)},
		RequestID: reqID})
}
