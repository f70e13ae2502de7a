"""Technique taxonomies: the 14 PTC classes and the 23 SemEval-2023 techniques.

redline speaks two persuasion-technique vocabularies:

* **PTC** (Propaganda Techniques Corpus v2, SemEval-2020 Task 11; Da San Martino
  et al. 2019, 2020): 14 span-level classes, some of them merged pairs or triples
  ("Whataboutism,Straw_Men,Red_Herring"). This is redline's *working* label set:
  the technique models predict exactly `PTC_TECHNIQUES`, in that order, and every
  `TechniqueSpan.technique` is a PTC label.
* **SemEval-2023 Task 3** (Piskorski et al. 2023): 23 finer techniques in six
  groups (Attack on reputation, Justification, Simplification, Distraction, Call,
  Manipulative wording). Its English training data re-annotates the PTC articles,
  so it can be used for extra supervision or evaluation once mapped.

SemEval-2021 Task 6 (persuasion in memes; Dimitrov et al. 2021) uses 20 text
techniques, mostly the PTC ones spelled differently plus a few extras.

Mapping policy (`SEMEVAL2023_TO_PTC`, `SEMEVAL2021_TO_PTC`, `to_ptc`): a foreign
label maps to the PTC class whose *definition* covers it; where no PTC class
covers it (values appeals, time appeals, vagueness, character attacks/smears),
it maps to ``None`` and is dropped, rather than padding a PTC class with
spans its annotators would not have given it. Each non-obvious choice is
commented at the mapping.

Families: both taxonomies use the six SemEval-2023 groups (`FAMILIES`), so a PTC
class is coloured and grouped like its 2023 successor. Colours are grouped by hue
per family (reds: attack on reputation; blues: justification; purples:
simplification; greens: distraction; slate greys: call; ambers/olive/orange:
manipulative wording). Every colour has at least 3:1 contrast on white (for
underlines) and gives a light tint at 35% alpha under black text; the palette was
checked for pairwise distance in CIELAB, also under simulated deuteranopia, which
hue grouping cannot make perfect: the UI must show the label too.

Definitions and examples are written for redline, in our own words.
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, replace

# Exactly as spelled in the PTC label files; the order is the models' class order.
PTC_TECHNIQUES: list[str] = [
    "Loaded_Language",
    "Name_Calling,Labeling",
    "Repetition",
    "Doubt",
    "Exaggeration,Minimisation",
    "Appeal_to_fear-prejudice",
    "Flag-Waving",
    "Causal_Oversimplification",
    "Appeal_to_Authority",
    "Slogans",
    "Whataboutism,Straw_Men,Red_Herring",
    "Black-and-White_Fallacy",
    "Thought-terminating_Cliches",
    "Bandwagon,Reductio_ad_hitlerum",
]

# The six SemEval-2023 Task 3 groups, in display order (the 2023 paper's order).
ATTACK = "Attack on reputation"
JUSTIFICATION = "Justification"
SIMPLIFICATION = "Simplification"
DISTRACTION = "Distraction"
CALL = "Call"
WORDING = "Manipulative wording"
FAMILIES: list[str] = [ATTACK, JUSTIFICATION, SIMPLIFICATION, DISTRACTION, CALL, WORDING]


@dataclass(frozen=True)
class Technique:
    label: str  # exactly as in the corpus label files
    name: str  # readable name for people
    definition: str  # one or two sentences, our own words
    example: str  # a short invented example sentence
    family: str  # one of FAMILIES
    color: str  # "#RRGGBB", for highlights (at ~35% alpha) and underlines

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def _index(techniques: list[Technique]) -> dict[str, Technique]:
    return {t.label: t for t in techniques}


# --- PTC: the 14 classes ---------------------------------------------------------
# Families follow the SemEval-2023 grouping of each class's successor(s):
#  * Doubt -> "Casting doubt", which 2023 puts under Attack on reputation (not
#    Manipulative wording).
#  * Bandwagon,Reductio_ad_hitlerum is split in 2023: Bandwagon -> Appeal_to_Popularity
#    (Justification), Reductio ad hitlerum -> Guilt_by_Association (Attack on
#    reputation). We keep the merged class in Justification.
#  * Whataboutism,Straw_Men,Red_Herring -> Distraction (all three are 2023 Distraction).
PTC: dict[str, Technique] = _index([
    Technique(
        "Loaded_Language", "Loaded language",
        "Words or phrases with strong emotional charge, positive or negative, chosen to "
        "sway the reader rather than to describe.",
        "The regime's thugs unleashed a savage crackdown on peaceful families.",
        WORDING, "#B58500"),
    Technique(
        "Name_Calling,Labeling", "Name calling / labeling",
        "Pinning a label on a person, group or idea that the audience already fears, "
        "despises or admires, so that the label does the arguing.",
        "The so-called experts of the climate cult have spoken again.",
        ATTACK, "#B8283E"),
    Technique(
        "Repetition", "Repetition",
        "Restating the same message, word or phrase again and again so that it sticks "
        "and starts to feel true.",
        "They lied about the budget. They lied about the war. They lied to you.",
        WORDING, "#CE5A00"),
    Technique(
        "Doubt", "Doubt",
        "Questioning the credibility, competence or motives of someone or something "
        "without offering real grounds for the doubt.",
        "Can we really trust a minister who has never held a proper job?",
        ATTACK, "#7A1F3D"),
    Technique(
        "Exaggeration,Minimisation", "Exaggeration / minimisation",
        "Making something look far bigger, better or worse than it is, or brushing it "
        "off as trivial.",
        "It was the worst betrayal in the history of the nation.",
        WORDING, "#777A18"),
    Technique(
        "Appeal_to_fear-prejudice", "Appeal to fear / prejudice",
        "Winning support for an idea by stirring up anxiety or panic about the "
        "alternative, or by playing on existing prejudice.",
        "If this bill passes, criminals will roam our streets by the summer.",
        JUSTIFICATION, "#2973C7"),
    Technique(
        "Flag-Waving", "Flag-waving",
        "Justifying an idea by appealing to the pride, identity or interests of the "
        "nation or group the audience belongs to.",
        "Every true patriot knows we must stand firm on this.",
        JUSTIFICATION, "#487AF1"),
    Technique(
        "Causal_Oversimplification", "Causal oversimplification",
        "Pinning a complex outcome on a single cause or culprit when many factors are "
        "at work.",
        "Prices went up for one reason only: the new mayor took office.",
        SIMPLIFICATION, "#582F95"),
    Technique(
        "Appeal_to_Authority", "Appeal to authority",
        "Treating a claim as true because an authority or celebrity backs it, without "
        "other support, even when the authority has no expertise on the matter.",
        "A famous actor says the treaty is a disaster, so it must be.",
        JUSTIFICATION, "#3E4776"),
    Technique(
        "Slogans", "Slogans",
        "A short, punchy phrase that packs a position into a memorable formula, often "
        "with labels or stereotypes.",
        "No peace without justice!",
        CALL, "#384B53"),
    Technique(
        "Whataboutism,Straw_Men,Red_Herring", "Whataboutism / straw man / red herring",
        "Deflecting instead of answering: charging critics with hypocrisy "
        "(whataboutism), attacking a distorted version of their view (straw man), or "
        "bringing in something irrelevant to shift attention (red herring).",
        "Why lecture us about human rights when your own police beat protesters?",
        DISTRACTION, "#397E60"),
    Technique(
        "Black-and-White_Fallacy", "Black-and-white fallacy",
        "Offering two options as if they were the only ones, or telling the audience "
        "the single thing it must do (dictatorship).",
        "Either you back the strike or you side with the bosses.",
        SIMPLIFICATION, "#C36AB5"),
    Technique(
        "Thought-terminating_Cliches", "Thought-terminating cliché",
        "A stock phrase that cuts off thought or debate by brushing the question aside.",
        "It is what it is; let's move on.",
        CALL, "#718F92"),
    Technique(
        "Bandwagon,Reductio_ad_hitlerum", "Bandwagon / reductio ad Hitlerum",
        "Urging people to accept an idea because everyone else already does "
        "(bandwagon), or to reject one because a hated person or group is linked to "
        "it (reductio ad Hitlerum).",
        "Millions have already switched; don't be the last one left behind.",
        JUSTIFICATION, "#1A86B0"),
])
assert list(PTC) == PTC_TECHNIQUES


# --- SemEval-2023 Task 3: the 23 techniques ---------------------------------------
# Labels and order as in techniques_subtask3.txt. A technique that directly succeeds
# one PTC class reuses that class's colour, so the same idea looks the same in both
# views; the nine new or split-off techniques get their own shade of their family hue.


def _same_as_ptc(ptc_label: str, label: str) -> Technique:
    """A 2023 technique that is the PTC one under a new label: one text for both."""
    return replace(PTC[ptc_label], label=label)


SEMEVAL2023: dict[str, Technique] = _index([
    _same_as_ptc('Appeal_to_Authority', 'Appeal_to_Authority'),
    Technique(
        "Appeal_to_Popularity", "Appeal to popularity",
        "Claiming a position is right because most people, or 'everyone', already "
        "holds it.",
        "Nine out of ten families already back the plan; why don't you?",
        JUSTIFICATION, "#1A86B0"),
    Technique(
        "Appeal_to_Values", "Appeal to values",
        "Backing a position by invoking values the audience cherishes, such as "
        "freedom, tradition, faith or fairness, in place of evidence.",
        "This law protects the freedom our grandparents fought for.",
        JUSTIFICATION, "#124BA9"),
    _same_as_ptc('Appeal_to_fear-prejudice', 'Appeal_to_Fear-Prejudice'),
    _same_as_ptc('Flag-Waving', 'Flag_Waving'),
    _same_as_ptc('Causal_Oversimplification', 'Causal_Oversimplification'),
    Technique(
        "False_Dilemma-No_Choice", "False dilemma / no choice",
        "Reducing a question to two options when more exist, or presenting one course "
        "of action as the only possible one.",
        "We either close the borders or we lose the country.",
        SIMPLIFICATION, "#C36AB5"),
    Technique(
        "Consequential_Oversimplification", "Consequential oversimplification",
        "Claiming, without support, that a first step will set off a chain of ever "
        "worse (or better) consequences: a slippery slope.",
        "Allow this one exception and soon there will be no rules at all.",
        SIMPLIFICATION, "#AF5EDC"),
    Technique(
        "Straw_Man", "Straw man",
        "Swapping an opponent's actual position for a distorted, weaker one and then "
        "attacking that instead.",
        "My rival wants to trim the police budget, so he wants no police at all.",
        DISTRACTION, "#3D7A1A"),
    Technique(
        "Red_Herring", "Red herring",
        "Bringing in an irrelevant topic to pull attention away from the issue under "
        "discussion.",
        "Asked about the missing funds, the minister praised the new stadium at length.",
        DISTRACTION, "#2B4D12"),
    Technique(
        "Whataboutism", "Whataboutism",
        "Answering criticism with a counter-accusation about the critic's own record "
        "instead of addressing the criticism.",
        "You question our election? What about the scandals in your own parliament?",
        DISTRACTION, "#397E60"),
    _same_as_ptc('Slogans', 'Slogans'),
    Technique(
        "Appeal_to_Time", "Appeal to time",
        "Pressing for action by insisting that the moment has come or that time is "
        "running out.",
        "The window is closing: we act this month or never.",
        CALL, "#5A6E7D"),
    Technique(
        "Conversation_Killer", "Conversation killer",
        "A phrase that shuts down discussion or critical thought, for example by "
        "declaring the matter settled or not worth discussing.",
        "There is nothing more to discuss here.",
        CALL, "#718F92"),
    _same_as_ptc('Loaded_Language', 'Loaded_Language'),
    _same_as_ptc('Repetition', 'Repetition'),
    _same_as_ptc('Exaggeration,Minimisation', 'Exaggeration-Minimisation'),
    Technique(
        "Obfuscation-Vagueness-Confusion", "Obfuscation / vagueness / confusion",
        "Deliberately unclear or ambiguous wording, so that a claim cannot be pinned "
        "down or each reader hears what suits them.",
        "Certain measures may be taken by the relevant parties in due course.",
        WORDING, "#8A7F5C"),
    _same_as_ptc('Name_Calling,Labeling', 'Name_Calling-Labeling'),
    Technique(
        "Doubt", "Casting doubt",
        "Questioning the credibility, competence or motives of someone or something "
        "without offering real grounds for the doubt.",
        "Can we really trust a minister who has never held a proper job?",
        ATTACK, "#7A1F3D"),
    Technique(
        "Guilt_by_Association", "Guilt by association",
        "Discrediting a person or idea by linking it to a group, figure or thing the "
        "audience already views as evil.",
        "The senator's plan is the very one the old dictatorship tried.",
        ATTACK, "#904A38"),
    Technique(
        "Appeal_to_Hypocrisy", "Appeal to hypocrisy",
        "Attacking someone's standing by pointing to contradictions between what they "
        "say and what they do or once did, instead of engaging with the argument.",
        "He preaches austerity, yet he flew to the summit on a private jet.",
        ATTACK, "#D26678"),
    Technique(
        "Questioning_the_Reputation", "Questioning the reputation",
        "Undermining a person or group with strong negative claims about their "
        "character or morals, rather than about their argument.",
        "Nothing she says matters; she has always been a shameless opportunist.",
        ATTACK, "#E8553F"),
])


# --- mappings onto PTC ------------------------------------------------------------
SEMEVAL2023_TO_PTC: dict[str, str | None] = {
    "Appeal_to_Authority": "Appeal_to_Authority",
    # Appeal to popularity is the 2023 name for bandwagon.
    "Appeal_to_Popularity": "Bandwagon,Reductio_ad_hitlerum",
    # Not Flag-Waving: PTC's flag-waving appeals to a group's pride or interests,
    # while appeals to abstract values (freedom, tradition, fairness) were added in
    # 2023 as a separate technique, next to flag-waving. Folding them in would blur
    # PTC's class; 2021's "Glittering generalities (Virtue)" is treated the same way.
    "Appeal_to_Values": None,
    "Appeal_to_Fear-Prejudice": "Appeal_to_fear-prejudice",
    "Flag_Waving": "Flag-Waving",
    "Causal_Oversimplification": "Causal_Oversimplification",
    "False_Dilemma-No_Choice": "Black-and-White_Fallacy",  # incl. "dictatorship"
    # A slippery slope oversimplifies a causal chain: nearest PTC class, same 2023
    # group (Simplification).
    "Consequential_Oversimplification": "Causal_Oversimplification",
    "Straw_Man": "Whataboutism,Straw_Men,Red_Herring",
    "Red_Herring": "Whataboutism,Straw_Men,Red_Herring",
    "Whataboutism": "Whataboutism,Straw_Men,Red_Herring",
    "Slogans": "Slogans",
    # "Act now / the time has come" is an urgency argument, not a slogan, and most
    # instances are not catchphrases; no PTC class covers it.
    "Appeal_to_Time": None,
    "Conversation_Killer": "Thought-terminating_Cliches",
    "Loaded_Language": "Loaded_Language",
    "Repetition": "Repetition",
    "Exaggeration-Minimisation": "Exaggeration,Minimisation",
    # PTC v2 dropped obfuscation (it was in the original 18-technique scheme, but
    # too rare to keep as a class).
    "Obfuscation-Vagueness-Confusion": None,
    "Name_Calling-Labeling": "Name_Calling,Labeling",
    "Doubt": "Doubt",
    # Guilt by association generalises reductio ad Hitlerum.
    "Guilt_by_Association": "Bandwagon,Reductio_ad_hitlerum",
    # Tu quoque. PTC defines whataboutism as discrediting an opponent's position by
    # charging them with hypocrisy without disproving the argument: that is this
    # technique, which 2023 split off from whataboutism (and regrouped under attack on
    # reputation). So it maps to PTC's whataboutism class despite the family change.
    "Appeal_to_Hypocrisy": "Whataboutism,Straw_Men,Red_Herring",
    # Character attacks (2021's "Smears") have no PTC class. Doubt is near but is
    # about credibility, and 2023 keeps the two apart; Name calling needs a label.
    "Questioning_the_Reputation": None,
}

# SemEval-2021 Task 6 (text of memes, subtasks 1-2): the 20 labels exactly as spelled
# in techniques_list_task1-2.txt and in the data (note the "é" in "cliché").
SEMEVAL2021_TO_PTC: dict[str, str | None] = {
    "Appeal to authority": "Appeal_to_Authority",
    "Appeal to fear/prejudice": "Appeal_to_fear-prejudice",
    # PTC's black-and-white class includes "dictatorship" in its guidelines as well.
    "Black-and-white Fallacy/Dictatorship": "Black-and-White_Fallacy",
    "Causal Oversimplification": "Causal_Oversimplification",
    "Doubt": "Doubt",
    "Exaggeration/Minimisation": "Exaggeration,Minimisation",
    "Flag-waving": "Flag-Waving",
    # Same reasoning as Appeal_to_Values in 2023 (its successor): no PTC class.
    "Glittering generalities (Virtue)": None,
    "Loaded Language": "Loaded_Language",
    "Misrepresentation of Someone's Position (Straw Man)": "Whataboutism,Straw_Men,Red_Herring",
    "Name calling/Labeling": "Name_Calling,Labeling",
    "Obfuscation, Intentional vagueness, Confusion": None,  # as in 2023
    "Presenting Irrelevant Data (Red Herring)": "Whataboutism,Straw_Men,Red_Herring",
    "Reductio ad hitlerum": "Bandwagon,Reductio_ad_hitlerum",
    "Repetition": "Repetition",
    "Slogans": "Slogans",
    # Reputation attacks: no PTC class (see Questioning_the_Reputation above).
    "Smears": None,
    "Thought-terminating cliché": "Thought-terminating_Cliches",
    "Whataboutism": "Whataboutism,Straw_Men,Red_Herring",
    "Bandwagon": "Bandwagon,Reductio_ad_hitlerum",
    # Subtask 3 (multimodal) adds two techniques that mostly live in the image;
    # accepted so that those files do not crash, but never mapped.
    "Appeal to (Strong) Emotions": None,
    "Transfer": None,
}


# --- actor relations ----------------------------------------------------------------
# Coarse event types for relations between actors (PLOVER/CAMEO-inspired).
RELATION_TYPES: list[str] = [
    "support",  # endorse, back politically or diplomatically (PLOVER SUPPORT, CAMEO 05)
    "give_aid",  # provide economic, humanitarian or non-lethal aid (PLOVER AID, CAMEO 07)
    "supply_arms",  # provide weapons or military equipment (CAMEO 07 military aid)
    "deploy",  # send or station forces, mobilise (PLOVER MOBILIZE, CAMEO 15)
    "attack",  # use force: strikes, assaults, fighting (PLOVER ASSAULT, CAMEO 18-20)
    "kill_injure",  # cause deaths or injuries (a casualty-reporting subtype of attack)
    "threaten",  # threaten force, sanctions or other harm (PLOVER THREATEN, CAMEO 13)
    "accuse",  # blame, criticise, denounce (PLOVER ACCUSE, CAMEO 11-12)
    "demand",  # demand or request an action (PLOVER REQUEST, CAMEO 10)
    "state",  # other public statement or comment (CAMEO 01)
]


# --- which taxonomy a run speaks ----------------------------------------------------
# A run's output carries one taxonomy, named in its JSON `model` block: "ptc" (the 14
# classes, the technique model's own head) or "semeval2023" (the 23 techniques, the head
# of models/technique23.py over the same encoder pass). The default and why: that
# model's MODEL_CARD.md.
TAXONOMIES: tuple[str, ...] = ("ptc", "semeval2023")
DEFAULT_TAXONOMY = "ptc"


def check_taxonomy(name: str | None) -> str:
    """The taxonomy a run uses (None: the default); an unknown name is an InputError."""
    from redline.errors import InputError

    if name is None:
        return DEFAULT_TAXONOMY
    if name not in TAXONOMIES:
        raise InputError(f"unknown taxonomy {name!r}: choose one of {', '.join(TAXONOMIES)}")
    return name


def labels_of(taxonomy: str) -> list[str]:
    """The technique labels of a taxonomy, in its canonical order."""
    return list(PTC_TECHNIQUES) if check_taxonomy(taxonomy) == "ptc" else list(SEMEVAL2023)


# --- helpers -----------------------------------------------------------------------
def _norm(label: str) -> str:
    return unicodedata.normalize("NFC", label.strip())


def technique_info(label: str) -> Technique:
    """The `Technique` for a PTC or SemEval-2023 label (PTC first where both spell it alike)."""
    key = _norm(label)
    if key in PTC:
        return PTC[key]
    if key in SEMEVAL2023:
        return SEMEVAL2023[key]
    hint = ""
    if key in SEMEVAL2021_TO_PTC:
        hint = f" (a SemEval-2021 label: use technique_info(to_ptc({label!r})))"
    raise KeyError(f"unknown technique label {label!r}: not a PTC or SemEval-2023 label{hint}")


def to_ptc(label: str) -> str | None:
    """The PTC label for a PTC, SemEval-2023 or SemEval-2021 label; None if no PTC class fits.

    Raises KeyError for a label of none of the three taxonomies.
    """
    key = _norm(label)
    if key in PTC:
        return key
    if key in SEMEVAL2023_TO_PTC:
        return SEMEVAL2023_TO_PTC[key]
    if key in SEMEVAL2021_TO_PTC:
        return SEMEVAL2021_TO_PTC[key]
    raise KeyError(f"unknown technique label {label!r}: not a PTC, SemEval-2023 or SemEval-2021 label")


def as_json() -> dict:
    """Both taxonomies and the mappings, JSON-ready (served by GET /api/techniques).

    Techniques are lists in their canonical order (PTC: the models' class order).
    """
    return {
        "families": list(FAMILIES),
        "ptc": [PTC[label].to_json() for label in PTC_TECHNIQUES],
        "semeval2023": [t.to_json() for t in SEMEVAL2023.values()],
        "semeval2023_to_ptc": dict(SEMEVAL2023_TO_PTC),
        "semeval2021_to_ptc": dict(SEMEVAL2021_TO_PTC),
    }
