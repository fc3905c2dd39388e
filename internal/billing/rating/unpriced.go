package rating

import "time"

// Priced leaves out of spans what no plan prices: a span of a region and
// model with no plan is dropped, and one that began before the first plan
// of its region and model took effect starts at that plan instead. Usage a
// provider never priced is free, and must not stop the rating of everything
// else; a plan is never applied to usage before it took effect.
func Priced(spans []Span, plans []Plan) []Span {
	first := map[[2]string]time.Time{}
	for _, p := range plans {
		k := [2]string{p.Region, p.Model}
		if t, ok := first[k]; !ok || p.EffectiveFrom.Before(t) {
			first[k] = p.EffectiveFrom
		}
	}
	out := make([]Span, 0, len(spans))
	for _, s := range spans {
		from, ok := first[[2]string{s.Region, s.Model}]
		if !ok {
			continue
		}
		if s.Start.Before(from) {
			if s.End != nil && !s.End.After(from) {
				continue
			}
			s.Start = from
		}
		out = append(out, s)
	}
	return out
}
