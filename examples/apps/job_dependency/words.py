"""Deterministic word generation and normalisation used by the example job.

Both functions run inside executor tasks, so the job only succeeds when this module was shipped
with --py-files.
"""

VOCABULARY = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
    "hotel", "india", "juliett", "kilo", "lima", "mike",
)


def sentence(i):
    """Returns the i-th generated sentence: three words picked deterministically from i."""
    n = len(VOCABULARY)
    return " ".join((VOCABULARY[i % n], VOCABULARY[(i * 7 + 3) % n], VOCABULARY[(i * i) % n].upper()))


def normalize(word):
    """Lower-cases a word and strips punctuation."""
    return "".join(ch for ch in word.lower() if ch.isalnum())


def category(word):
    """Groups words by their first letter's position in the alphabet: 'a-f', 'g-l' or 'm-z'."""
    c = word[:1]
    if c <= "f":
        return "a-f"
    if c <= "l":
        return "g-l"
    return "m-z"
