"""The answer in words: which batch size (and lr) to use, and the measured reasons why.

One function, `recommend`, reads a RunSummary (everything but its recommendation)
and returns the Recommendation; the Run screen's panel, the Plots screen and the
headless printer all show what it says.
"""

from __future__ import annotations

from collections.abc import Sequence

from tuilab.engine.analysis import pick, quality
from tuilab.engine.goodput import HELD
from tuilab.engine.summary import LaneSummary, Recommendation, RunSummary
from tuilab.format import fmt_count, fmt_float

LISTED = 4  # lanes named one by one in a sentence; the rest are counted


def _seconds(t: float) -> str:
    if t < 0.1:  # tiny CPU runs: "1.9 ms", not "0.00 s"
        return f"{t * 1000:.2g} ms"
    return f"{t:.2f} s" if t < 1 else f"{t:.1f} s"


def _quality_words(ln: LaneSummary) -> str:
    q = quality(ln)
    if q is None:
        return "—"
    return f"{-q:.1%}" if ln.final_test_accuracy is not None else fmt_float(q)


def _names(lanes: Sequence[LaneSummary], detail) -> str:
    shown = [f"{ln.name} ({detail(ln)})" for ln in lanes[:LISTED]]
    more = len(lanes) - LISTED
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _measure_name(lanes: Sequence[LaneSummary]) -> str:
    if any(ln.final_test_accuracy is not None for ln in lanes):
        return "test accuracy"
    return "test loss" if any(ln.final_test_loss is not None for ln in lanes) else "train loss"


def _lr_sentence(s: RunSummary, best: dict[int, LaneSummary]) -> tuple[str, bool]:
    """What the run did about the lr; True when one lr (or one rule) was shared by every batch size."""
    if s.lr_tuned:
        grid = max(len(p.lrs) for p in s.per_batch_size)
        lrs = ", ".join(f"B={b} {fmt_float(ln.lr)}" for b, ln in sorted(best.items()))
        return f"The lr was tuned per batch size over {grid} values; best lr: {lrs}.", False
    lrs = sorted({ln.lr for ln in s.lanes})
    what = f"One lr ({fmt_float(lrs[0])})" if len(lrs) == 1 else \
        f"One lr rule ({fmt_float(lrs[0])} to {fmt_float(lrs[-1])} by batch size)"
    return (f"{what} was shared by every batch size: a batch size that needs another step size looks "
            "worse than it is, and the ranking may change with the lr (set [optimizer] lr_grid)."), True


def _critical_sentence(s: RunSummary, reached: list[LaneSummary]) -> tuple[str | None, str | None]:
    """The critical batch size in words, and a weak spot of it (for the confidence) or None."""
    tested = [ln.batch_size for ln in reached]
    if s.b_crit is not None and tested:
        if s.b_crit > 2 * max(tested):
            return (f"The critical batch size is above the tested range: steps still fall almost as 1/B up "
                    f"to B={max(tested)} (the fit extrapolates to ≈{s.b_crit:.3g}).",
                    "the critical batch size lies outside the batch sizes tried")
        if s.b_crit < min(tested) / 2:
            return (f"The critical batch size is below the tested range: even B={min(tested)} is past it "
                    f"(the fit extrapolates to ≈{s.b_crit:.3g}).",
                    "the critical batch size lies outside the batch sizes tried")
    if s.b_crit is not None:
        why = "critical batch size, measured from steps to target"
        weak = None
        if s.b_simple is not None and s.b_simple > 0:
            why += f"; gradient noise scale says {s.b_simple:.0f}"
            ratio = max(s.b_crit / s.b_simple, s.b_simple / s.b_crit)
            weak = f"the two critical batch size estimates differ {ratio:.0f}x" if ratio > 3 else None
        return f"Past B≈{s.b_crit:.0f} ({why}) bigger batches mostly buy parallelism, not fewer steps.", weak
    if s.b_simple is not None:
        return (f"Past B≈{s.b_simple:.0f} (gradient noise scale, an estimate of the critical batch size) "
                "bigger batches mostly buy parallelism, not fewer steps."), None
    return None, None


def _goodput_sentence(s: RunSummary, fastest: LaneSummary | None) -> str | None:
    p = s.predicted_batch_size
    if p is None:
        return None
    head = f"Goodput (Pollux, noise scale ≈{fmt_float(s.noise_scale)}, measured samples/s) predicts B={p} fastest"
    if s.pilot:
        return f"{head}; a full run of the same preset checks it."
    if fastest is None:
        return f"{head}; no lane reached the target, so it could not be checked."
    if fastest.batch_size == p:
        return f"{head}; measured fastest to the target: B={p} too: the prediction held."
    mine = [ln for ln in s.lanes if ln.batch_size == p and ln.to_target and ln.unstable is None]
    took = f"B={p} took {_seconds(min(ln.to_target.seconds for ln in mine))}" if mine else \
        f"B={p} never reached the target"
    verdict = f"within {HELD - 1:.0%} of it: the prediction held" if s.prediction_held else \
        "the prediction did not hold"
    return (f"{head}; measured fastest to the target: B={fastest.batch_size} "
            f"({_seconds(fastest.to_target.seconds)}; {took}), {verdict}.")


def _verdicts(lanes: Sequence[LaneSummary], learned: bool) -> list[str]:
    """The lanes that did not learn (when others did), the unstable and the undertrained ones."""
    out = []
    stuck = [ln for ln in lanes if learned and not ln.progressed and not ln.status.failed and ln.unstable is None]
    if stuck:
        out.append("Did not get clearly below its starting loss: "
                   f"{_names(stuck, lambda ln: f'{fmt_float(ln.start_train_loss)} to {fmt_float(ln.best_train_loss)}')}.")
    for flag, what in (("unstable", "Unstable"), ("undertrained", "Undertrained (train longer)")):
        marked = [ln for ln in lanes if getattr(ln, flag)]
        if marked:
            out.append(f"{what}, never recommended: {_names(marked, lambda ln, f=flag: getattr(ln, f))}.")
    return out


def recommend(s: RunSummary) -> Recommendation:
    """The batch size (and lr) to use and the measured reasons, from a summary without its recommendation.

    Never recommended: a failed, unstable or undertrained lane, or one that did not get
    clearly below its starting loss. Of the others, `analysis.pick` chooses (the best
    final test quality; among equally good lanes, the fastest to the target).
    """
    lanes = list(s.lanes)
    best = {p.batch_size: s.lane(p.best_lane) for p in s.per_batch_size if p.best_lane is not None}
    reached = [ln for ln in lanes if ln.to_target and ln.unstable is None and not ln.status.failed]
    fastest = min(reached, key=lambda ln: (ln.to_target.seconds, ln.batch_size)) if reached else None
    fewest = min(reached, key=lambda ln: (ln.to_target.examples, ln.batch_size)) if reached else None
    choice = pick([ln for ln in lanes if ln.eligible])
    if s.pilot:
        choice = best.get(s.predicted_batch_size)
    low: list[str] = []
    medium: list[str] = []
    reasons: list[str] = []
    on = f" on {s.device}" if s.device else ""
    measure = _measure_name(lanes)

    learned = [ln for ln in lanes if ln.progressed]
    if s.pilot:
        head = (f"Pilot prediction: B={s.predicted_batch_size}" + (f" with lr {fmt_float(choice.lr)}." if choice else ".")
                if s.predicted_batch_size is not None else "Pilot: no prediction (the noise scale or the throughput "
                "was not measured).")
        low.append("a pilot predicts from throughput and the noise scale; it does not measure time to a target")
    elif not learned:
        starts = [ln.start_train_loss for ln in lanes if ln.start_train_loss is not None]
        bests = [ln.best_train_loss for ln in lanes if ln.best_train_loss is not None]
        head = ("No lane got clearly below where it started"
                + (f" (best train loss {fmt_float(min(bests))} against {fmt_float(starts[0])} at the start)"
                   if starts and bests else "")
                + ": nothing was learned to compare batch sizes on. Check the labels, the learning rate "
                  "(try lr_grid) and the budget.")
        low.append("no lane learned")
    elif choice is None:
        head = "No batch size can be recommended: every lane that learned was unstable, undertrained or failed."
        low.append("no lane qualified")
    else:
        head = f"Use B={choice.batch_size} with lr {fmt_float(choice.lr)}."

    if s.pilot and best:
        reasons.append(f"At the pilot's end, {measure} per batch size at its best lr: "
                       + ", ".join(f"B={b} {_quality_words(ln)}" for b, ln in sorted(best.items())) + ".")
    elif choice is not None and learned:
        others = ", ".join(f"B={b} {_quality_words(ln)}" for b, ln in sorted(best.items()) if ln is not choice)
        rated = [ln for ln in lanes if ln.eligible and quality(ln) is not None]
        top = min(rated, key=quality) if rated else choice
        lead = "the best within the budget" if quality(choice) == quality(top) else \
            f"as good as the best ({_quality_words(top)} at {top.name}) within tolerance"
        reasons.append(f"Final {measure} {_quality_words(choice)} at {choice.name}, {lead}"
                       + (f"; other batch sizes at their best lr: {others}." if others else "."))
    if s.target_loss is not None and not s.pilot:
        words = f"Target train loss {fmt_float(s.target_loss)}" + (f" ({s.target_rule})" if s.target_rule else "")
        if choice is not None and choice.to_target:
            tt = choice.to_target
            words += (f": {choice.name} reached it in {_seconds(tt.seconds)}{on}, {fmt_count(round(tt.examples))} "
                      f"examples ({fmt_count(round(tt.steps))} steps)")
        if fastest is not None:
            words += (f"; fastest B={fastest.batch_size} ({_seconds(fastest.to_target.seconds)}), fewest examples "
                      f"B={fewest.batch_size} ({fmt_count(round(fewest.to_target.examples))}).")
        else:
            words += "; no lane reached it."
        reasons.append(words)
        never = [ln for ln in lanes if not ln.to_target and not ln.status.failed and ln.unstable is None
                 and ln.undertrained is None and ln.progressed]
        if never:
            reasons.append(f"Never reached the target: {_names(never, lambda ln: 'best ' + fmt_float(ln.best_train_loss))}.")
    if not s.pilot:  # a pilot's lanes are all cut short: their curves say nothing of this
        reasons += _verdicts(lanes, bool(learned))
    failed = [ln for ln in lanes if ln.status.failed]
    if failed:
        reasons.append(f"Failed: {_names(failed, lambda ln: ln.status.text)}.")
        uncovered = [ln for ln in failed if not any(o.batch_size == ln.batch_size and o.eligible for o in lanes)]
        if uncovered:
            names = ", ".join(f"{ln.name} {ln.status.text}" for ln in uncovered[:LISTED])
            low.append(f"{len(uncovered)} lane{'s' if len(uncovered) > 1 else ''} failed ({names})")

    rates = {ln.batch_size: ln.samples_per_s for ln in lanes if ln.samples_per_s}
    if rates:
        lo, hi = min(rates, key=rates.get), max(rates, key=rates.get)
        mine = f"{fmt_count(rates[choice.batch_size])} samples/s at B={choice.batch_size}; " \
            if choice is not None and choice.batch_size in rates else ""
        reasons.append(f"Throughput{on}: {mine}from {fmt_count(rates[lo])} at B={lo} to {fmt_count(rates[hi])} "
                       f"at B={hi}.")
    lr_words, shared = _lr_sentence(s, best)
    reasons.append(lr_words)
    if shared and len(best) > 1:
        medium.append("one lr was shared by every batch size")
    critical, weak = _critical_sentence(s, reached)
    if critical:
        reasons.append(critical)
    if weak:
        medium.append(weak)
    goodput = _goodput_sentence(s, fastest)
    if goodput:
        reasons.append(goodput)

    sizes_reached = {ln.batch_size for ln in reached}
    if not s.pilot and learned:
        sizes = len(best) or len({ln.batch_size for ln in lanes})
        if len(sizes_reached) <= 1 < sizes:
            low.append(f"only {len(sizes_reached)} of {sizes} batch sizes reached the target")
        elif len(sizes_reached) < min(3, sizes):
            medium.append(f"only {len(sizes_reached)} of {sizes} batch sizes reached the target")
    if s.interrupted:
        low.append("the run was stopped before every lane finished")
    confidence = "low" if low or len(medium) >= 2 else "medium" if medium else "high"
    reasons.append(f"Confidence {confidence}" + (f": {'; '.join(low + medium)}." if low or medium else "."))
    return Recommendation(
        batch_size=choice.batch_size if choice is not None else None,
        lr=choice.lr if choice is not None else None,
        lane=choice.lane if choice is not None else None,
        reasons=tuple(reasons),
        fastest_batch_size=fastest.batch_size if fastest else None,
        fewest_examples_batch_size=fewest.batch_size if fewest else None,
        critical_batch_size=s.b_crit if s.b_crit is not None else s.b_simple,
        confidence=confidence,
        text=" ".join([head, *reasons]),
        headline=head,
    )
