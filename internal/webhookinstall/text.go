package webhookinstall

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

// timeFormat is how the text views show times (in UTC).
const timeFormat = "2006-01-02 15:04:05 MST"

// Text is the status as `kubectl chart webhook status` prints it.
func (s *Status) Text() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
	row := func(k, format string, args ...any) {
		if k != "" {
			k += ":"
		}
		fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...))
	}
	if !s.Installed {
		row("INSTALLED", "no: nothing blocks writes from other tools to what releases own")
		row("INSTALL", "kubectl chart webhook install [--self-signed | --local --port PORT --cert-dir DIR] [--strict]")
	} else {
		row("INSTALLED", "yes, %s mode", orDash(string(s.Mode), "unknown"))
		if s.Healthy {
			row("HEALTHY", "yes")
		} else {
			row("HEALTHY", "no (see PROBLEMS)")
		}
		switch {
		case s.Strict == nil:
			row("STRICT", "unknown (see PROBLEMS)")
		case *s.Strict:
			row("STRICT", "yes: only users and ServiceAccounts bound to %s may deploy", DeployerRoleName)
		default:
			row("STRICT", "no: admin and edit include %s and %s", DeployerRoleName, UnlockerRoleName)
		}
		if s.Namespace != "" {
			row("NAMESPACE", "%s", s.Namespace)
		}
		for _, c := range s.Configurations {
			k := "MUTATING"
			if c.Kind == kindValidating {
				k = "VALIDATING"
			}
			switch {
			case !c.Exists:
				row(k, "missing")
			case len(c.Webhooks) == 0:
				row(k, "no webhooks")
			default:
				row(k, "%s (%s), failure policy %s", orDash(c.Endpoint, "-"), strings.Join(c.Webhooks, ", "), orDash(c.FailurePolicy, "-"))
			}
		}
		if len(s.CABundle) == 0 {
			row("CA BUNDLE", "none")
		}
		for i, c := range s.CABundle {
			k := "CA BUNDLE"
			if i > 0 {
				k = ""
			}
			row(k, "%s, valid until %s", c.Subject, c.NotAfter.UTC().Format(timeFormat))
		}
		if d := s.Deployment; d != nil && d.Replicas == 0 && d.Message != "" {
			row("DEPLOYMENT", "%s: %s: %s", d.Name, d.Status, d.Message)
		} else if d != nil {
			row("DEPLOYMENT", "%s: %d/%d ready, %s", d.Name, d.Ready, d.Replicas, d.Status)
			if d.Image != "" {
				row("IMAGE", "%s", d.Image)
			}
		}
		for i, c := range s.Certificates {
			k := "CERTIFICATES"
			if i > 0 {
				k = ""
			}
			ready := "not ready"
			if c.Ready {
				ready = "ready"
			}
			until := ""
			if c.NotAfter != nil {
				until = ", valid until " + c.NotAfter.UTC().Format(timeFormat)
			}
			row(k, "%s: %s%s", c.Name, ready, until)
		}
		if sv := s.Server; sv != nil {
			if sv.Answering {
				row("SERVER", "answering at %s", sv.Address)
			} else {
				row("SERVER", "not answering at %s", sv.Address)
			}
		}
		if sv := s.Serving; sv != nil {
			switch {
			case sv.Error != "":
				row("SERVING CERT", "%s: %s", sv.Source, sv.Error)
			default:
				trust := "trusted by the CA bundle"
				if !sv.Trusted {
					trust = "NOT trusted by the CA bundle"
				}
				row("SERVING CERT", "%s: %s, valid until %s, %s", sv.Source, strings.Join(sv.Hosts, ", "), sv.NotAfter.UTC().Format(timeFormat), trust)
			}
		}
	}
	if len(s.Problems) == 0 && s.Installed {
		row("PROBLEMS", "none")
	}
	for i, p := range s.Problems {
		k := "PROBLEMS"
		if i > 0 {
			k = ""
		}
		row(k, "%s", p)
	}
	_ = tw.Flush()
	return b.String()
}
