package cloudsim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Workload identity tokens, as the simulated token endpoints read them
// (STS AssumeRoleWithWebIdentity, Entra ID client assertions, Google STS
// token exchange). Signatures are not checked: cloudsim models no
// identity provider trust.

// JWTClaims are the claims of a web identity token that STS reads.
type JWTClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience any    `json:"aud"` // a string or a list
	Expires  int64  `json:"exp"`
}

// ParseJWT reads the claims of a JWT without checking its signature, or
// says what is wrong with it.
func ParseJWT(token string) (JWTClaims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return JWTClaims{}, fmt.Errorf("the token is not a JWT (three base64url parts separated by dots)")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return JWTClaims{}, fmt.Errorf("the token's payload is not base64url: %v", err)
	}
	var c JWTClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return JWTClaims{}, fmt.Errorf("the token's payload is not a JSON object: %v", err)
	}
	if c.Subject == "" || c.Audience == nil {
		return JWTClaims{}, fmt.Errorf("the token has no sub or no aud claim")
	}
	return c, nil
}

// FirstAudience is the aud claim, or its first element when it is a list.
func (c JWTClaims) FirstAudience() string {
	switch a := c.Audience.(type) {
	case string:
		return a
	case []any:
		if len(a) > 0 {
			s, _ := a[0].(string)
			return s
		}
	}
	return ""
}
