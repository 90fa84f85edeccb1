package pricefront

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// AWSQuotaNames are the EC2 GPU instance quotas (all counted in vCPUs)
// the simulator knows, by quota code, named as Service Quotas names them.
var AWSQuotaNames = map[string]string{
	"L-417A185B": "Running On-Demand P instances",
	"L-7212CCBC": "All P Spot Instance Requests",
	"L-DB2E81BA": "Running On-Demand G and VT instances",
	"L-3819A6DF": "All G and VT Spot Instance Requests",
}

type awsQuota struct {
	ServiceCode         string  `json:"ServiceCode"`
	ServiceName         string  `json:"ServiceName"`
	QuotaArn            string  `json:"QuotaArn"`
	QuotaCode           string  `json:"QuotaCode"`
	QuotaName           string  `json:"QuotaName"`
	Value               float64 `json:"Value"`
	Unit                string  `json:"Unit"`
	Adjustable          bool    `json:"Adjustable"`
	GlobalQuota         bool    `json:"GlobalQuota"`
	QuotaAppliedAtLevel string  `json:"QuotaAppliedAtLevel"`
	UsageMetric         struct {
		MetricNamespace               string            `json:"MetricNamespace"`
		MetricName                    string            `json:"MetricName"`
		MetricDimensions              map[string]string `json:"MetricDimensions"`
		MetricStatisticRecommendation string            `json:"MetricStatisticRecommendation"`
	} `json:"UsageMetric"`
}

// quota is the region's quota with code, as Service Quotas returns it.
func (a *AWS) quota(region, code string) awsQuota {
	v, ok := a.opts.QuotaVCPUs[region+"/"+code]
	if !ok {
		if v, ok = a.opts.QuotaVCPUs[code]; !ok {
			v = AWSDefaultQuotaVCPUs
		}
	}
	q := awsQuota{ServiceCode: "ec2", ServiceName: "Amazon Elastic Compute Cloud (Amazon EC2)",
		QuotaArn: "arn:aws:servicequotas:" + region + ":" + a.opts.AccountID + ":ec2/" + code, QuotaCode: code,
		QuotaName: AWSQuotaNames[code], Value: v, Unit: "None", Adjustable: true, QuotaAppliedAtLevel: "ACCOUNT"}
	q.UsageMetric.MetricNamespace, q.UsageMetric.MetricName = "AWS/Usage", "ResourceCount"
	q.UsageMetric.MetricStatisticRecommendation = "Maximum"
	q.UsageMetric.MetricDimensions = map[string]string{"Class": "None", "Resource": "vCPU", "Service": "EC2", "Type": "Resource"}
	return q
}

// serveQuotas answers GetServiceQuota (NoSuchResourceException for a
// service or quota code it does not know) and ListServiceQuotas (the
// known quotas of ec2, by code, paged).
func (a *AWS) serveQuotas(w http.ResponseWriter, r *http.Request, region, op string) {
	f, reqID := a.admit(op)
	switch f {
	case faultThrottle:
		writeJSONError(w, http.StatusBadRequest, "TooManyRequestsException", reqID, "Rate exceeded")
		return
	case faultFail:
		writeJSONError(w, http.StatusInternalServerError, "InternalFailure", reqID, "The request processing has failed because of an unknown error, exception or failure.")
		return
	}
	var in struct {
		ServiceCode string `json:"ServiceCode"`
		QuotaCode   string `json:"QuotaCode"`
		NextToken   string `json:"NextToken"`
		MaxResults  int    `json:"MaxResults"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSONError(w, http.StatusBadRequest, "IllegalArgumentException", reqID, err.Error())
		return
	}
	switch op {
	case AWSGetServiceQuota:
		if _, ok := AWSQuotaNames[in.QuotaCode]; !ok || in.ServiceCode != "ec2" {
			writeJSONError(w, http.StatusBadRequest, "NoSuchResourceException", reqID,
				"The request failed because the specified service or quota ("+in.ServiceCode+"/"+in.QuotaCode+") does not exist.")
			return
		}
		writeJSON(w, reqID, map[string]any{"Quota": a.quota(region, in.QuotaCode)})
	case AWSListServiceQuotas:
		if in.ServiceCode != "ec2" {
			writeJSONError(w, http.StatusBadRequest, "NoSuchResourceException", reqID, "The request failed because the specified service does not exist.")
			return
		}
		offset, ok := parsePageToken(AWSListServiceQuotas, in.NextToken)
		if !ok {
			writeJSONError(w, http.StatusBadRequest, "InvalidPaginationTokenException", reqID, "Invalid pagination token.")
			return
		}
		var all []awsQuota
		for code := range AWSQuotaNames {
			all = append(all, a.quota(region, code))
		}
		slices.SortFunc(all, func(x, y awsQuota) int { return strings.Compare(x.QuotaCode, y.QuotaCode) })
		items, next := page(AWSListServiceQuotas, all, offset, a.pageSize(in.MaxResults, 100))
		out := map[string]any{"Quotas": append([]awsQuota{}, items...)}
		if next != "" {
			out["NextToken"] = next
		}
		writeJSON(w, reqID, out)
	default:
		writeJSONError(w, http.StatusBadRequest, "UnknownOperationException", reqID, "pricefront serves GetServiceQuota and ListServiceQuotas only, not "+op)
	}
}
