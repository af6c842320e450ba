"""Story de-duplication: collapse re-reports of one news event under reworded headlines.

Pure module: no I/O, no clock, no global mutable state (the only module-level data are frozen
tables). See docs/stories.md for the method and the figures.

How an item is compared
-----------------------
An item becomes a sparse unit vector over *terms* (lower-cased, Porter-stemmed words mapped through
small tables of places, news synonyms, number words and acronyms; acronyms and numbers kept). A term's
weight is its inverse story frequency (ISF), learned online from the stories live in the window and
smoothed by a built-in background prior, times a small boost for names and numbers, times 1 for title
terms and ``summary_weight`` for summary terms.

A new item is compared with each candidate story's *centroid* (sum of its members' unit vectors):
cosine similarity, relaxed for diverse stories (cohesion), lowered when the two name different
places, dates or numbers (conflict). Comparing against the centroid rather than the nearest member is
the guard against chaining. Candidate stories come from an inverted index that posts only each story's
*head* terms (its heaviest, enough that the rest cannot reach the threshold), so a lookup never scans
the window and still finds every story that can reach the threshold.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import html
import itertools
import math
import operator
import re
import struct
import sys
import unicodedata
from array import array
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported at run time only by an index given an embedder (semantic mode)
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float32]
    Embedder = Callable[[Sequence[str]], FloatArray]

__all__ = [
    "SEMANTIC_THRESHOLD",
    "Explanation",
    "StoryConfig",
    "StoryIndex",
    "StoryMatch",
    "decode_vector",
    "encode_vector",
    "explain",
    "is_significant_update",
    "normalize_text",
    "terms",
]

# ---------------------------------------------------------------------------------------------------
# Background prior: generic English word frequencies, by band. Written for this module from general
# knowledge of English word frequency (function words, then the few hundred most frequent words, then
# the next thousand or so). A word's band gives its prior document frequency (share of documents that
# contain it); words in no band are treated as rare (names, specific nouns).
# ---------------------------------------------------------------------------------------------------

_STOPWORDS_TEXT = """
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each either else ever few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself just
let me more most my myself neither no nor not of off on once only or other ought our ours ourselves
out over own same shall she should so some such than that the their theirs them themselves then there
these they this those through thus to too under until up upon us very was we were what when where
whether which while who whom whose why will with within without would yet you your yours yourself
yourselves via per amid among onto toward towards
"""

# Function words of other languages feeds' readers follow news in (German, French, Spanish, Italian,
# Portuguese, Dutch, Russian, Ukrainian), dropped like the English ones: the English prior knows none of
# them, so each weighed as a rare name, and headlines sharing only "die Lage in der ... am Donnerstag" or
# "ce qu'il faut retenir" joined. Left out: words that are English content words ("die", "den", "van",
# "son", "sin", "plus", "pour", "par", "con", "do", "no", "man", "war", "hat", "met", "come", "nun", "hay",
# "fur", "non", "aus", "al", "seine", "ins", "weil") or names in English news ("Uber", "Das", "von der Leyen",
# "Elle", "Che", "Uno", "Lo", "Mas", "Ser", "Dem"); the articles kept apart from English names
# go ("la", "le", "de", "el", "del": "La Liga" is "liga" on both sides; "Los Angeles" is a phrase).
_FOREIGN_STOPWORDS_TEXT = """
der einer eines einem einen eine ein und oder aber mit für auf bei nach vom zum zur
im ist sind wird werden wurde wurden haben hatte sich nicht auch noch wie als nur unter
vor gegen zwischen durch ohne dass daß wenn sein ihre ihr wir sie er schon
la le de les une du au aux et ou dans sur sous avec sans chez est sont été qui que quoi dont où ne pas se ce cette
ces sa ses leur leurs il ils elles nous vous lui qu
el del las una por para sus es como más pero sobre entre tras desde hasta fue este esta estos
estas muy ya también tambien según segun
il della delle dello degli dei nel nella nei alle allo agli dal dalla sul sulla per tra fra
è anche più dopo
os dos nos nas um uma em pelo pela pelos pelas ao aos não nao mais após apos
het een dat voor zijn niet aan bij ook naar maar uit nog wordt worden
и в во на с со к ко по за из от до для о об при про под над без через у а но или что как же ли не ни бы
это этот эта эти его ее её их он она они мы вы я то так уже еще ещё будет был была были есть после
і й та з із зі від що як чи це цей ця ці її він вона вони ви так вже ще буде був була були є але або
після під
"""

# Very frequent content words (prior document frequency ~5%), including the staples of headlines.
_BAND1_TEXT = """
new say says said year years day days time times first last one two three four five six seven eight
nine ten people world way man men woman women child children life make makes made get gets got go goes
going went come comes came take takes took see sees saw know knows think thinks want wants look looks
use uses used find finds found give gives gave tell tells told work works call calls called try tries
need needs feel become becomes leave leaves put keep keeps begin begins seem seems help helps show shows
hear play plays run runs move moves live lives believe bring brings happen happens write sit stand lose
loses lost pay pays meet meets include includes continue set learn change changes lead leads understand
watch follow stop stops create speak read allow add spend grow open opens walk win wins won offer
remember love consider appear buy wait serve die send expect build stay fall cut reach kill remain
suggest raise pass sell require report reports decide pull good great big high old little small large
long young right early important few public bad able best better sure free full real whole back still
even well much many never always often really today week weeks month months morning night home house
place part case point group number fact hand eye eyes head system program question government company
companies school country countries family state states city problem service area room money story stories
job jobs word words business issue side kind lot book end member members law car power water thing
things name line information health percent level office door person court war party result
plan plans news video photos photo watch top next latest now update here get just more most live
report says set u s mr mrs ms new york
"""

# Common words (prior document frequency ~1%): general vocabulary and frequent news vocabulary.
_BAND2_TEXT = """
ability accept access account across act action activity actually add address administration admit
adult affect afraid age agency agent ago agree agreement ahead air airport album allow almost alone
along already although american americans analysis animal announce announced announcement annual another
answer anyone anything apple approach approve approved april area argue arm army around arrest arrested
art article artist ask asked attack attacks attention attorney audience august author authority available
average avoid award away baby ball bank banks bar base basis battle beat beautiful bed behavior behind
benefit beyond bill billion bit black blood blue board body border born boss bottom box boy brain break
breaking brother budget building call campaign cancer candidate capital card care career carry cause
center central century certain chair challenge champion chance character charge charged chief choice
church citizen civil claim claims class clear clearly climate close closed club coach cold collection
college color come comment commercial common community compare computer concern condition conference
congress consumer contain control cost costs could council cover crash create crime criminal crisis
critical cultural culture cup current customer dark data daughter dead deal death debate december
decision deep defense degree democrat democrats democratic deny department describe design despite
detail determine develop development die difference different difficult dinner direction director
discover discuss disease doctor dog dollar dollars door down drive drop drug drugs during east easy
economic economy edge education effect effort election elections employee energy enjoy enough enter
entire environment environmental especially establish evening event events everybody everyone
everything evidence exactly example executive exist expect experience expert explain face facebook
factor fail failure fan fans far farm fast father fear february federal fight figure file fill film
films final finally financial fine finish fire firm fish floor fly focus food foot force foreign forget
form former forward friday friend friends front fund funds future game games garden gas general
generation girl glass goal gold google ground grow growth guess gun guy hair half hall happy hard heart
heat heavy history hit hold hope hospital hot hotel hour hours huge human hundred husband idea identify
image imagine impact improve increase indeed indicate industry inside instead institution interest
international interview investment involve island issue items itself january join july june key kid
kids kill killed killing kitchen knowledge land language large late later laugh lawyer lay leader
leaders learn least leave left leg legal less letter light likely limit list listen little local loss
lot low machine magazine main maintain major majority manage management manager march market markets
marriage material matter may maybe mean measure media medical meeting memory mention message method
middle might military million millions mind minister minute minutes miss mission model modern moment
monday mother mouth movement movie movies mrs music myself nation national natural nature near nearly
necessary network never nice north note nothing notice november october officer official officials
oil ok once online operation opportunity option order organization others outside owner page pain
painting paper parent parents participant particular particularly partner past patient pattern peace
per perform performance perhaps period personal phone physical pick picture piece plant player players
pm police policy political politics poor popular population position positive possible potential
pound practice prepare present president press pressure pretty prevent price prices private probably
process produce product production professional professor project property protect prove provide
pull purpose quality quickly quite race radio range rate rather reality reason receive recent recently
recognize record red reduce reflect region relate relationship release released religious remove
rep represent republican republicans require research resource respond response responsibility rest
return reveal revealed rich rise rising risk road rock role rule rules safe sale sales saturday save
scene science scientist score sea season seat second secretary section security seek senate senior
sense series serious set seven several sex sexual shake share shares shoot short shot shoulder sign
signed significant similar simple simply since sing single sister site situation size skill skin
social society soldier soldiers somebody someone something sometimes son song songs soon sort sound
source south southern space special specific speech sport sports spring staff stage star stars start
starts statement station step stock stocks stop store strategy street strike strong structure student
students study stuff style subject success successful suddenly suffer summer sunday support surface
system table talk talks tax teach teacher team technology television tell ten tend term test thank
theory thousand threat threaten throughout thursday ticket tonight total tough toward town trade
traditional training travel treat treatment tree trial trip trouble true truth tuesday turn tv type
under unit united university unless upon usually value various victim victims view violence visit voice
vote voter voters wall wear weapon weather wednesday weight west western white whole wide wife will
window wish within without wonder worker workers worry wrong yard yeah yes yesterday young youth
accused announces claims crash deal deals dies dead fight fired found hits hit launch launches leaves
new plans rise rises risk sets talks warns warning wins says court judge jury ruling rules fine fined
bid bids bans ban cut cuts hike hikes jump jumps surge surges slump falls fell gains gain record
profit profits revenue earnings quarter shares investors investor ceo chief executive deal merger
update updates review reviews trailer episode season premiere finale report reports study studies
rumor rumors rumours official officially confirm confirms confirmed reveal reveals first look
"""

# Places and their adjectives: frequent in news, and a demonym should meet its country.
# Each entry is "place" or "place:adjective:adjective...".
_PLACES_TEXT = """
afghanistan:afghan africa:african america:american:us:usa albania:albanian algeria:algerian
argentina:argentine:argentinian
armenia:armenian asia:asian australia:australian austria:austrian azerbaijan:azerbaijani bahrain:bahraini
bangladesh:bangladeshi belarus:belarusian belgium:belgian bolivia:bolivian bosnia:bosnian brazil:brazilian
britain:british:uk bulgaria:bulgarian cambodia:cambodian cameroon:cameroonian canada:canadian chile:chilean
china:chinese colombia:colombian congo:congolese croatia:croatian cuba:cuban cyprus:cypriot czech
denmark:danish egypt:egyptian england:english ethiopia:ethiopian europe:european finland:finnish
france:french georgia:georgian germany:german ghana:ghanaian greece:greek haiti:haitian hungary:hungarian
india:indian indonesia:indonesian iran:iranian iraq:iraqi ireland:irish israel:israeli italy:italian
japan:japanese jordan:jordanian kenya:kenyan korea:korean kosovo kuwait:kuwaiti lebanon:lebanese
libya:libyan malaysia:malaysian mali:malian mexico:mexican morocco:moroccan myanmar:burmese nepal:nepalese
netherlands:dutch nigeria:nigerian norway:norwegian pakistan:pakistani palestine:palestinian peru:peruvian
philippines:philippine:filipino poland:polish portugal:portuguese qatar:qatari romania:romanian
russia:russian rwanda:rwandan scotland:scottish serbia:serbian somalia:somali spain:spanish
sudan:sudanese sweden:swedish switzerland:swiss syria:syrian taiwan:taiwanese thailand:thai tunisia:tunisian
turkey:turkish uganda:ugandan ukraine:ukrainian venezuela:venezuelan vietnam:vietnamese wales:welsh
yemen:yemeni zambia:zambian zimbabwe:zimbabwean
washington london paris moscow beijing tokyo berlin brussels kabul baghdad cairo damascus tehran
northkorea:dprk southkorea southsudan southafrica saudiarabia:saudi newzealand srilanka uae ivorycoast
newdelhi jerusalem gaza kyiv kiev delhi mumbai islamabad seoul sydney toronto rome madrid geneva
"""
# US states as headlines write them: adjectives, two-word names as one term (the phrases table), the AP
# style's abbreviations (_STATE_ABBREVIATIONS, with their dot) and NYC. Aliases only: as places (specific
# terms: a Texas report and a US one in a place conflict) they cost UCI recall on every seed (docs/stories.md,
# the changes table).
_STATES_TEXT = """
alaska:alaskan california:californian florida:floridian hawaii:hawaiian iowa:iowan texas:texan ny:nyc
newjersey:nj newmexico:nm newhampshire:nh northcarolina:nc northdakota:nd southcarolina:sc southdakota:sd
rhodeisland:ri westvirginia:wva
"""
# The AP style's state abbreviations, read only as a whole word with its dot and capital ("Colo." is
# Colorado; "colo", German "mich" and Swedish "kan" stay words); not those that are also an English word or a
# title, which a Title Case headline may end with ("Falls Ill.", "Iron Ore.", "Car Wash.", "Noah's Ark.",
# "Mass.", "Miss."), nor those other languages abbreviate with a dot ("Md." Mohammad in Bangladesh's news,
# German "Mo." Montag, French "Mont.", Polish "Ala."), nor "Ind.", "La." and "Ga." (Georgia is a country here).
_STATE_ABBREVIATIONS = {
    "Ariz": "Arizona", "Calif": "California", "Colo": "Colorado", "Conn": "Connecticut", "Del": "Delaware",
    "Fla": "Florida", "Kan": "Kansas", "Kans": "Kansas", "Ky": "Kentucky", "Mich": "Michigan",
    "Minn": "Minnesota", "Neb": "Nebraska", "Nebr": "Nebraska", "Nev": "Nevada", "Okla": "Oklahoma",
    "Pa": "Pennsylvania", "Tenn": "Tennessee", "Va": "Virginia", "W.Va": "Westvirginia", "Vt": "Vermont",
    "Wis": "Wisconsin", "Wisc": "Wisconsin", "Wyo": "Wyoming",
}


def _band(text: str) -> frozenset[str]:
    return frozenset(text.split())


# ---------------------------------------------------------------------------------------------------
# Text normalisation and terms
# ---------------------------------------------------------------------------------------------------

_TAG = re.compile(r"<[^>]*>|<")
_KEEP = re.compile(r"[^\w\s'.,$%-]+")
# A dotted acronym (U.S., U.N.), a number (1.5, 2,000), or a word (letters/digits, inner apostrophe).
_TOKEN = re.compile(r"(?:[A-Za-z]\.){2,}|\d+(?:st|nd|rd|th)\b|\d+(?:[.,]\d+)*|[^\W_]+(?:'[^\W_]+)*")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u2013": "-", "\u2014": "-"})


def _ascii_table() -> dict[int, str]:
    """_QUOTES and then _KEEP on ASCII text in one translate: each ASCII character _KEEP would blank becomes
    a space (a run of them becomes spaces where _KEEP leaves one: _chunks splits on runs of spaces anyway)."""
    table = {}
    for c in range(128):
        folded = chr(c).translate(_QUOTES)
        if _KEEP.fullmatch(folded):
            table[c] = " "
        elif folded != chr(c):
            table[c] = folded
    return table


_ASCII_KEEP = _ascii_table()


def _chunks(text: str) -> list[str]:
    """normalize_text(text).split(), without joining the words only to split them again."""
    if not text:
        return []
    t = _TAG.sub(" ", text) if "<" in text else text
    if "&" in t:
        t = html.unescape(t)
        t = _TAG.sub(" ", t)
    if t.isascii():  # NFKC leaves ASCII as it is
        t = t.translate(_ASCII_KEEP)
    else:
        t = _fold_latin(unicodedata.normalize("NFKC", t))
        t = t.translate(_QUOTES)
        t = _KEEP.sub(" ", t)
    return t.split()  # on runs of whitespace (str.isspace, as the regex \s)


def _fold_latin(t: str) -> str:
    """Accents off Latin letters ("adopté" -> "adopte", "México" -> "Mexico"), as the channel rules fold
    them: one report's accent and another's plain spelling meet. Marks on letters of other scripts stay
    (Ukrainian "ї" is not "і")."""
    d = unicodedata.normalize("NFD", t)
    folded = _LATIN_MARKS.sub("", d)
    return t if folded == d else unicodedata.normalize("NFC", folded)


_LATIN_MARKS = re.compile(r"(?<=[A-Za-z])[\u0300-\u036f]+")  # the combining marks on an (undone) Latin letter


def normalize_text(text: str) -> str:
    """Plain, comparable text: tags removed, entities decoded, NFKC, quotes folded, spaces collapsed.

    Idempotent: ``normalize_text(normalize_text(x)) == normalize_text(x)``. Case is kept (it tells
    names from words); characters other than letters, digits, spaces and ``' . , $ % -`` become spaces.
    """
    return " ".join(_chunks(text))


def _tokens(chunks: list[str]) -> list[str]:
    """_TOKEN.findall(" ".join(chunks)) for chunks of normalised text, ~3x faster: no token spans a space,
    and a chunk of letters only is one token (no other alternative of _TOKEN can match a letter)."""
    out: list[str] = []
    add = out.append
    find = _TOKEN.findall
    for w in chunks:
        if w.isalpha():
            add(w)
        else:
            full = _state(w)
            if full is not None:
                add(full)
            else:
                out += find(w)
    return out


def _state(chunk: str) -> str | None:
    """The state a whole chunk abbreviates with its dot ("Colo.", "Colo.,", "W.Va.": Colorado, West Virginia),
    else None."""
    if chunk[-1] not in ".," or not chunk[0].isupper():
        return None
    base = chunk.rstrip(".,")
    return _STATE_ABBREVIATIONS.get(base) if "." in chunk[len(base):] else None


# Porter's consonant/vowel pattern of a word: "c" or "v" per letter; y is a vowel after a consonant.
_CV = str.maketrans({c: ("v" if c in "aeiou" else "y" if c == "y" else "c") for c in "abcdefghijklmnopqrstuvwxyz"})


def _pattern(s: str) -> str:
    p = s.translate(_CV)
    if "y" not in p and p.isascii():
        return p
    out = []
    prev = "v"  # a leading y is a consonant
    for ch in p:
        if ch == "y":
            ch = "v" if prev == "c" else "c"
        elif ch not in "cv":
            ch = "c"  # not a letter (digit, accented): treated as a consonant
        out.append(ch)
        prev = ch
    return "".join(out)


def _measure(s: str) -> int:
    """Porter's m: the number of vowel-consonant sequences in s."""
    return _pattern(s).count("vc")


def _has_vowel(s: str) -> bool:
    return "v" in _pattern(s)


def _double_cons(s: str) -> bool:
    return len(s) >= 2 and s[-1] == s[-2] and _pattern(s[-1:]) == "c"


def _cvc(s: str) -> bool:
    return len(s) >= 3 and _pattern(s)[-3:] == "cvc" and s[-1] not in "wxy"


_STEP2 = dict((("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"),
                 ("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"),
                 ("ization", "ize"), ("ation", "ate"), ("ator", "ate"), ("alism", "al"), ("iveness", "ive"),
                 ("fulness", "ful"), ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"),
                 ("logi", "log")))
_STEP3 = dict((("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"), ("ful", ""),
               ("ness", "")))
_STEP4 = frozenset(("al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ou",
                    "ism", "ate", "iti", "ous", "ive", "ize"))
_STEP2_LENGTHS = sorted({len(s) for s in _STEP2}, reverse=True)
_STEP3_LENGTHS = sorted({len(s) for s in _STEP3}, reverse=True)
_STEP4_LENGTHS = sorted({len(s) for s in _STEP4}, reverse=True)


def _porter(w: str) -> str:
    """The Porter (1980) stemmer, written from the published description."""
    if len(w) <= 2:
        return w
    # step 1a
    if w.endswith(("sses", "ies")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    # step 1b
    if w.endswith("eed"):
        if _measure(w[:-3]) > 0:
            w = w[:-1]
    else:
        cut = ""
        if w.endswith("ed") and _has_vowel(w[:-2]):
            cut = w[:-2]
        elif w.endswith("ing") and _has_vowel(w[:-3]):
            cut = w[:-3]
        if cut:
            w = cut
            if w.endswith(("at", "bl", "iz")):
                w += "e"
            elif _double_cons(w) and w[-1] not in "lsz":
                w = w[:-1]
            elif _measure(w) == 1 and _cvc(w):
                w += "e"
    # step 1c
    if w.endswith("y") and _has_vowel(w[:-1]):
        w = w[:-1] + "i"
    # steps 2 and 3: the longest matching suffix only
    for table, lengths in ((_STEP2, _STEP2_LENGTHS), (_STEP3, _STEP3_LENGTHS)):
        for n in lengths:
            rep = table.get(w[-n:]) if len(w) > n else None
            if rep is not None:
                stem = w[:-n]
                if _measure(stem) > 0:
                    w = stem + rep
                break
    # step 4
    for n in _STEP4_LENGTHS:
        suf = w[-n:] if len(w) > n else ""
        if suf in _STEP4:
            stem = w[:-n]
            if _measure(stem) > 1 and (suf != "ion" or stem.endswith(("s", "t"))):
                w = stem
            break
    # step 5
    if w.endswith("e"):
        stem = w[:-1]
        m = _measure(stem)
        if m > 1 or (m == 1 and not _cvc(stem)):
            w = stem
    if w.endswith("ll") and _measure(w) > 1:
        w = w[:-1]
    return w


# Words the stemmer would merge with an unrelated frequent word.
# Porter's over-stemming that matters in news: "news" is not "new"; "international" is not "intern" (nor
# "internal"), and Porter makes "internationally" "internation" (found by a review reading a real news day)
_STEM_EXCEPTIONS = {"news": "news", "international": "internation", "internationals": "internation"}


# British spellings in -ise/-yse and their forms, written as the American -ize/-yze before stemming, so that
# "recognises" and "recognizes" (or "organisation" and "organization") are one term; only after a base of
# three letters or more, so "rise", "wise" and "raise" stay as they are in every form.
_IZE = re.compile(r"(?<=[a-z]{3})([iy])s(e|es|ed|ing|er|ers|ation|ations)$")


# British spellings news headlines use, spelt as the American words before stemming ("centre" / "center",
# "defence" / "defense"): a list, not a rule (a rule on -tre would make French "votre" "voter", "timbre" "timber")
_BRITISH_TEXT = """
center:centre centers:centres centered:centred theater:theatre theaters:theatres meter:metre meters:metres
kilometer:kilometre kilometers:kilometres centimeter:centimetre centimeters:centimetres millimeter:millimetre
millimeters:millimetres liter:litre liters:litres fiber:fibre fibers:fibres caliber:calibre defense:defence
defenses:defences offense:offence offenses:offences license:licence licenses:licences pretense:pretence
program:programme programs:programmes
"""
_BRITISH = {b: a for a, b in (e.split(":") for e in _BRITISH_TEXT.split())}


def _stem(w: str) -> str:
    """Possessive and apostrophes dropped, British -ise/-yse spelt -ize/-yze (and the words of _BRITISH as the
    American ones), then the Porter stemmer, so that inflected and derived forms meet (controversy /
    controversial -> controversi, resigns / resignation -> resign, recognised / recognizes -> recogn)."""
    if w.endswith("'s"):
        w = w[:-2]
    w = w.replace("'", "")
    if len(w) <= 3 or not w.isalpha():
        return w
    exc = _STEM_EXCEPTIONS.get(w)
    if exc is not None:
        return exc
    if "s" in w:
        w = _IZE.sub(r"\1z\2", w)
    return _porter(_BRITISH.get(w, w))


_STOP = _band(_STOPWORDS_TEXT) | _band(_FOREIGN_STOPWORDS_TEXT)
# French and Italian elision: "l'Assemblée", "d'Ukraine", "qu'il", "dell'Ucraina": the article or
# pronoun glued on by an apostrophe is dropped, so the word meets its bare form
_ELISION = re.compile(r"\A(?:[ldjnsmtc]|qu|dell|all|dall|nell|sull)'(?=[^\W\d_]{2})", re.IGNORECASE)
# Scripts written without spaces between words (Chinese, Japanese): a run of them is read as its
# overlapping two-character pieces, the usual way to index such text; pieces with hiragana (particles and
# endings: "が", "を", "して") are dropped, kanji and katakana pieces kept
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]+")
_HIRAGANA = re.compile(r"[\u3040-\u309f]")


def _cjk_pieces(token: str) -> list[str]:
    """A token holding CJK characters as its words: each CJK run's two-character pieces (a lone character
    as itself), pieces with hiragana dropped; the token's other letters and digits as words of their own."""
    out: list[str] = []
    last = 0
    for m in _CJK.finditer(token):
        if m.start() > last:
            out.append(token[last:m.start()])
        run = m.group()
        pieces = [run] if len(run) == 1 else [run[k:k + 2] for k in range(len(run) - 1)]
        out += [p for p in pieces if not _HIRAGANA.search(p)]
        last = m.end()
    if last < len(token):
        out.append(token[last:])
    return out


def _stems(text: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in text.split())


# News vocabulary that says the same thing in different words, and number words. Each entry is
# "canonical:variant:variant..."; all forms are stemmed, so one entry covers the inflections. Written
# for this module from general news usage (headline synonyms), not from any evaluation pair; the last three
# lines (2026-11) add roles a real news day's review found split (envoy, lawmaker) and names as outlets
# transliterate them, four of those from STS-B train's missed rewordings (docs/stories.md, the changes table).
_SYNONYMS_TEXT = """
earthquake:quake:tremor explosion:blast:explode prison:jail prisoner:inmate kill:slay:slain
attack:assault airstrike:air-strike launch:unveil approve:endorse:ok:oks:okay reject:dismiss
allegation:accusation:claim talk:negotiation:negotiate ceasefire:truce win:victory lose:loss
plane:aircraft:airliner:jet ship:vessel car:vehicle child:children:kid:kids woman:women man:men
company:firm chief:boss:head chair:chairman:chairwoman fire:blaze gunman:gunmen:shooter police:cop:cops
rebel:insurgent protester:demonstrator:protestor protest:demonstration army:troops:troop:military:soldier
powerful:strong biggest:largest help:aid:assist rise:climb:soar:surge fall:drop:slide:slump:tumble:plunge
polls:poll election:elections say:said:says football:soccer film:movie premier:pm
1:one 2:two 3:three 4:four 5:five 6:six 7:seven 8:eight 9:nine 10:ten 11:eleven 12:twelve
first:1st second:2nd third:3rd fourth:4th fifth:5th sixth:6th seventh:7th eighth:8th ninth:9th tenth:10th
billion:bn million:mn
deal:agreement:accord:pact resign:quit probe:investigation:inquiry hurt:injure:wound ban:prohibit
row:dispute:spat hike:increase
envoy:ambassador lawmaker:congressman:congresswoman:congressmen:congresswomen
zelensky:zelenskyy:zelenskiy alexei:alexey navalny:navalnyy gaddafi:qaddafi:gadhafi:kadhafi
hezbollah:hizbollah:hizbullah:hizballah taliban:taleban qaeda:qaida rouhani:rohani:rowhani morsi:mursi isis:isil:daesh
"""

# Multi-word names and their acronyms: the phrase becomes the acronym's term.
_PHRASES_TEXT = """
pm=prime minister|un=united nations|eu=european union|us=united states|uk=united kingdom
fed=federal reserve|imf=international monetary fund|who=world health organization|nato=north atlantic treaty
ecb=european central bank|boe=bank of england|fbi=federal bureau of investigation|cia=central intelligence agency
nasa=national aeronautics and space administration|gop=grand old party|hk=hong kong|ny=new york|la=los angeles
sec=securities and exchange commission|nhs=national health service|epa=environmental protection agency
northkorea=north korea|northkorea=north korean|northkorea=n korea|northkorea=n korean
southkorea=south korea|southkorea=south korean|southkorea=s korea|southkorea=s korean
southsudan=south sudan|southsudan=south sudanese|southsudan=s sudan|southafrica=south africa
southafrica=south african|saudiarabia=saudi arabia|newzealand=new zealand|srilanka=sri lanka
srilanka=sri lankan|uae=united arab emirates|ivorycoast=ivory coast|newdelhi=new delhi
newhampshire=new hampshire|newjersey=new jersey|newmexico=new mexico|northcarolina=north carolina
northdakota=north dakota|southcarolina=south carolina|southdakota=south dakota|westvirginia=west virginia
rhodeisland=rhode island
"""


def _aliases(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in text.split():
        names = [_stem(n.replace("-", "")) for n in entry.split(":")]
        for n in names[1:]:
            if n != names[0]:
                out[n] = names[0]
    return out


def _phrases(text: str) -> dict[tuple[str, ...], str]:
    out: dict[tuple[str, ...], str] = {}
    for entry in text.replace("\n", "|").split("|"):
        if "=" in entry:
            short, long = entry.strip().split("=")
            out[tuple(long.split())] = _stem(short)  # as the alias tables hold it
    return out


_ALIASES = _aliases(_PLACES_TEXT)
# the states' aliases; a two-word state's two-letter initials only with their dots (N.J., through the dotted
# branch of `_terms`), not as the all-caps word ("SC" is also a Supreme Court)
_STATE_ALIASES = _aliases(_STATES_TEXT)
_ALIASES.update((k, v) for k, v in _STATE_ALIASES.items() if len(k) > 2)
for _k, _v in _aliases(_SYNONYMS_TEXT).items():
    _ALIASES.setdefault(_k, _ALIASES.get(_v, _v))
del _k, _v
_PHRASES = _phrases(_PHRASES_TEXT)
_PHRASE_WORDS = max(map(len, _PHRASES))  # the longest phrase, in words
_SPANS = tuple(range(_PHRASE_WORDS, 1, -1))  # what _terms tries at a phrase's first word, longest first
_DATES_TEXT = """
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
september october november december
"""
# Terms that pin an event to one place or time: places, weekdays and months (numbers are specific too).
_SPECIFIC = frozenset(_ALIASES.get(k, k) for k in _stems(_PLACES_TEXT.replace(":", " ")) | _stems(_DATES_TEXT))


def _spec(vec: Mapping[str, float], keys: Collection[str] | None = None) -> list[tuple[str, float]]:
    """The (term, weight) of a vector's specific terms (`_specific`), of those in ``keys`` only when given."""
    return [(t, w) for t, w in vec.items() if _specific(t) and (keys is None or t in keys)]


def _specific(key: str) -> bool:
    """Whether a term names a place, a date or a number: two reports that each carry such a term the
    other lacks (Iran / Algeria, January 27 / March 20, 359 / 72) are likely about different events."""
    return key[0].isdigit() or key in _SPECIFIC
_PHRASE_FIRST = frozenset(p[0] for p in _PHRASES)
# A capital (or a city that stands for its country in headlines) implies the country: "Kyiv" and
# "Ukraine" reports share a term, and a report naming only the capital is not in a place conflict with
# one naming only the country. Each entry is "city:place"; the place is added as a second term.
_CAPITALS_TEXT = """
kyiv:ukraine kiev:ukraine moscow:russia washington:america beijing:china tokyo:japan berlin:germany
london:britain paris:france kabul:afghanistan baghdad:iraq cairo:egypt damascus:syria tehran:iran
seoul:southkorea islamabad:pakistan newdelhi:india delhi:india mumbai:india jerusalem:israel rome:italy
madrid:spain brussels:eu
"""
_IMPLIES = {_stem(a): _ALIASES.get(_stem(b), _stem(b)) for a, b in (e.split(":") for e in _CAPITALS_TEXT.split())}
_BAND1 = frozenset(_ALIASES.get(k, k) for k in _stems(_BAND1_TEXT))
_BAND2 = (_stems(_BAND2_TEXT) | _stems(_PLACES_TEXT.replace(":", " "))) - _stems(_BAND1_TEXT)
_BAND2 = frozenset(_ALIASES.get(k, k) for k in _BAND2) - _BAND1


@dataclass(frozen=True, slots=True)
class Term:
    """A term of one text: its key, whether it reads as a name or number, and its source field."""

    key: str
    entity: bool


def _title_cased(words: list[str]) -> bool:
    """True when capitals carry no information: most longer words start upper-case (Title Case)."""
    longer = [w for w in words if len(w) > 3 and w[0].isalpha()]
    if not longer:
        return True
    caps = sum(1 for w in longer if w[0].isupper())
    return caps * 2 > len(longer)


def terms(text: str) -> list[Term]:
    """The terms of a text in order, without stopwords or duplicates.

    Numbers and all-caps acronyms (``US``, ``U.S.``, ``NASA``) are entities everywhere; a capitalised
    word is an entity only when the text is not Title Case and the word does not start it.
    """
    return [Term(k, e) for k, e in _terms(text, None)]


_CLITIC = re.compile(r"'(?:s|re|ll|ve|d|m)?$")


# A number right after a series word names an installment ("Part 2", "Vol. 23", "Episode 3", "Part Two",
# "Part II"): in a title, "Part 1" and "Part 2" are two items, never one story (_conflict), so such a number
# is its own term, "2#part" (a number first: a specific term, weighed as its number), the same however the
# number is written. Only a space, or the dot of an abbreviation, may come between; not "No." (a ranking:
# "world No. 1") nor "post" ("post 2020"); a Roman numeral has two letters or more ("Part I" may be "the
# part I liked").
_INSTALLMENT = re.compile(r"\b(part|pt\.?|vol\.?|volume|episode|ep\.?|chapter|issue|lesson|season|series|book)"
                          r" (\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|[ivxIVX]{2,5})"
                          r"\b(?![-.,]\w)", re.IGNORECASE)  # not "one-way", "3-1", "2.5", "1,000"
_SERIES = {"part": "part", "pt": "part", "vol": "vol", "volume": "vol", "episode": "episod", "ep": "episod",
           "chapter": "chapter", "issue": "issue", "lesson": "lesson", "season": "season", "series": "series",
           "book": "book"}
_NUMBER_WORDS = {w: i for i, w in enumerate(
    ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"], start=1)}


def _roman(n: int) -> str:
    out = []
    for v, sym in ((10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        while n >= v:
            out.append(sym)
            n -= v
    return "".join(out)


_ROMAN_NUMERALS = {_roman(n): n for n in range(1, 40)}  # the canonical spellings the regex can match


def _number(s: str) -> int | None:
    """The value of a number as an installment is written: digits, a word (one to twelve) or a Roman
    numeral in one case ("Xi" is a name, not 11; None for one that is not canonical, "IIII")."""
    if s.isdigit():
        return int(s)
    low = s.lower()
    if low in _NUMBER_WORDS:
        return _NUMBER_WORDS[low]
    return _ROMAN_NUMERALS.get(low) if s.isupper() or s.islower() else None


def _installments(t: str) -> dict[int, str]:
    """Offset in normalised text t of each installment's number -> its term ("2#part")."""
    out: dict[int, str] = {}
    for m in _INSTALLMENT.finditer(t):
        n = _number(m.group(2))
        if n is not None:
            out[m.start(2)] = f"{n}#{_SERIES[m.group(1).lower().rstrip('.')]}"
    return out


def _bare(low: str) -> str:
    """A lower-cased word without a possessive or clitic ending ("korea's" -> "korea", "it's" -> "it"), so
    that a possessive does not break a multi-word name and a contracted function word stays a stopword."""
    return _CLITIC.sub("", low) if "'" in low else low


def _terms(text: str, cache: dict[str, str] | None, limit: int | None = None,
           installments: bool = True) -> list[tuple[str, bool]]:
    """The terms of a text as (key, entity); with ``limit``, only the first ``limit`` (the same as slicing
    the whole list). ``installments``: numbers after series words are installment terms (titles; a
    summary's "in part 1 we..." is not what the item is)."""
    chunks = _chunks(text)
    if not chunks:
        return []
    # installments: token index -> term (the numbers the regex found, located among the tokens)
    inst: dict[int, str] | None = None
    at = None
    if installments and len(chunks) > 1:
        # (a chunk that abbreviates a state is its name here too, as `_tokens` reads it)
        t = " ".join([_state(w) or w for w in chunks])
        at = _installments(t)
    if at:
        tokens = list(_TOKEN.finditer(t))
        raw = [m.group() for m in tokens]
        inst = {j: at[m.start()] for j, m in enumerate(tokens) if m.start() in at}
    else:
        raw = _tokens(chunks)
    if not raw:
        return []
    if not text.isascii() and _CJK.search(text):
        raw = [p for w in raw for p in (_cjk_pieces(w) if _CJK.search(w) else (w,))]
        inst = None  # (token positions moved; installments are Latin-script titles)
    if "'" in text or "\u2019" in text:
        raw = [_ELISION.sub("", w, count=1) if "'" in w[:5] else w for w in raw]  # (an elision is 1-4 letters)
    # all-caps text (more than three words, every word of two letters or more in capitals); the all()
    # stops at the first lower-case word, so ordinary text does not count its words
    shouting = (all(w.isupper() for w in raw if len(w) > 1 and w[0].isalpha())
                and sum(1 for w in raw if w[0].isalpha()) > 3)
    informative_caps = not shouting and not _title_cased(raw)
    out: list[tuple[str, bool]] = []
    seen: set[str] = set()
    n = len(raw)
    i = -1
    while i + 1 < n:
        i += 1
        w = raw[i]
        term = inst.get(i) if inst else None
        if term is not None:  # an installment (titles)
            if term not in seen:
                seen.add(term)
                out.append((term, True))
                if limit is not None and len(out) >= limit:
                    break
            continue
        # fast path: a plain word (no digit first, no dot, not all caps, not a phrase start) seen before
        key = cache.get(w) if cache is not None else None
        if key is not None:
            if not key or key in seen:
                continue
            seen.add(key)
            out.append((key, (informative_caps and i > 0 and w[0].isupper()) or key[0].isdigit()))
            if limit is not None and len(out) >= limit:
                break
            continue
        low = w.lower()
        short = None
        if low in _PHRASE_FIRST:
            for span in _SPANS:
                short = _PHRASES.get(tuple(_bare(x.lower()) for x in raw[i : i + span])) if i + span <= n else None
                if short is not None:
                    i += span - 1
                    break
        if short is not None:  # a multi-word name: its acronym's term
            key = _ALIASES.get(short, short)
            entity = True
        elif w[0].isdigit():
            key = w.replace(",", "")
            key = _ALIASES.get(key, key)
            entity = True
        elif "." in w:  # dotted acronym
            key = low.replace(".", "")
            key = _ALIASES.get(key, _STATE_ALIASES.get(key, key))
            entity = True
        elif not shouting and len(w) >= 2 and w.isupper() and w.isalpha() and len(w) <= 5:
            key = _stem(low)
            key = _ALIASES.get(key, key)
            entity = True
        else:
            # what the fast path may reuse: not a phrase start, not all caps (an acronym unless shouting)
            keep = cache is not None and low not in _PHRASE_FIRST and not w.isupper()
            if low in _STOP or (len(low) == 1 and low.isalpha()) or ("'" in low and _bare(low) in _STOP):
                if keep:
                    cache[w] = ""  # type: ignore[index]
                continue
            key = _stem(low)
            key = _ALIASES.get(key, key)
            if keep and key not in _IMPLIES:
                cache[w] = key  # type: ignore[index]
            if not key:
                continue
            entity = (informative_caps and i > 0 and w[0].isupper()) or key[0].isdigit()
        if key in seen:
            continue
        seen.add(key)
        out.append((key, entity))
        if limit is not None and len(out) >= limit:
            break
        imp = _IMPLIES.get(key)
        if imp is not None and imp not in seen:
            seen.add(imp)
            out.append((imp, entity))
            if limit is not None and len(out) >= limit:
                break
    return out


def _prior_df(key: str) -> float:
    """Background share of documents containing a term (an installment, "2#part", its number's)."""
    if "#" in key:
        key = key[: key.index("#")]
    if key in _BAND1:
        return 0.05
    if key in _BAND2:
        return 0.01
    if key[0].isdigit():
        # Years and small numbers are everywhere; long specific numbers are rare.
        if len(key) == 4 and key[:2] in ("19", "20"):
            return 0.01
        return 0.01 if len(key) <= 2 else 0.002
    return 0.0005


# ---------------------------------------------------------------------------------------------------
# Configuration and results
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoryConfig:
    """Knobs of the story index. The defaults are the documented operating point (docs/stories.md)."""

    window: timedelta = timedelta(hours=72)
    # Cosine between an item and a story centroid at or above which the item joins the story.
    threshold: float = 0.55
    # How far the bar is lowered for a diverse story: the score is cos / cohesion ** cohesion_power,
    # cohesion being the mean cosine of the story's members to its centroid (1 for a single item).
    cohesion_power: float = 1.0
    # Floor of the cohesion used above, so a diffuse story never lowers the bar below
    # threshold * min_cohesion ** cohesion_power.
    min_cohesion: float = 0.6
    # Weight of a summary term relative to a title term; only the first summary_terms terms count: about
    # a lede, so that the headline keeps most of the weight and the index's memory (a few kB per live
    # item, proportional to its terms) stays bounded when summaries are whole articles.
    summary_weight: float = 0.5
    summary_terms: int = 20
    # Multiplier for names, acronyms and numbers.
    entity_boost: float = 1.3
    # Pseudo-count of background documents: how many stories the prior is worth against the window.
    prior_docs: float = 1000.0
    # Conflict penalty: the score is multiplied by 1 - conflict_penalty * conflict, where conflict is the
    # smaller of (item's squared weight on places/dates/numbers the story lacks) and (story's share on
    # places/dates/numbers the item lacks).
    conflict_penalty: float = 1.0
    # Share of a joining item's squared weight on terms new to the story that makes it a
    # significant update (see is_significant_update).
    update_novelty: float = 0.35
    # A report with a summary is also scored on its headline alone, against the headlines of a story's latest
    # HEADLINE_MEMBERS reports (see HEADLINE_FLOOR for which stories); the higher score counts (summaries pull
    # re-reports apart more often than together: docs/stories.md, step 8 "Headlines alone"). False: the
    # headline-with-summary score alone decides.
    headline_match: bool = True
    # Semantic mode (an index given an embedder): score = semantic_weight x lexical score
    # + (1 - semantic_weight) x semantic score, compared with ``threshold`` (SEMANTIC_THRESHOLD is the
    # measured operating point of the 50/50 blend; docs/semantic.md). Unused without an embedder.
    semantic_weight: float = 0.5

    def cohesion_factor(self, norm: float, members: int) -> float:
        """The divisor of a story's score besides its norm: cohesion ** cohesion_power, cohesion being the mean
        cosine of the members to their centroid (norm / members), floored at min_cohesion and at most 1."""
        if not self.cohesion_power or not members:
            return 1.0
        return float(min(1.0, max(norm / members, self.min_cohesion)) ** self.cohesion_power)

    @property
    def headline_route(self) -> bool:
        """Whether a report with a summary is also scored on its headline alone (lexical mode): summaries count
        and `headline_match` is on."""
        return self.headline_match and self.summary_weight > 0 and self.summary_terms > 0


# The threshold of the blended score at semantic_weight 0.5 (docs/semantic.md: STS-B and UCI figures).
SEMANTIC_THRESHOLD = 0.65


@dataclass(frozen=True)
class StoryMatch:
    """Result of StoryIndex.add.

    ``story_id`` is the item id of the story's first item; ``joined`` is False when the item started a
    new story (then ``story_id == item_id``, ``score`` is the best similarity seen below the threshold,
    ``matched_item`` None). ``matched_item`` is the member most similar to the new item. ``novelty`` is
    the share of the item's squared term weight on terms the story did not have (1.0 for a new story).
    """

    story_id: int
    joined: bool
    score: float
    matched_item: int | None
    novelty: float = 1.0


@dataclass(frozen=True)
class Explanation:
    score: float
    same_story: bool
    shared: tuple[tuple[str, float], ...]  # term, contribution to the cosine
    only_a: tuple[tuple[str, float], ...]  # term, weight in a's unit vector
    only_b: tuple[tuple[str, float], ...]
    lines: tuple[str, ...]
    cosine: float = 0.0  # before the conflict penalty (score = cosine * (1 - penalty * conflict))
    conflict: float = 0.0
    # semantic mode: the embeddings' cosine and the lexical score that were blended into ``score``
    semantic: float | None = None
    lexical: float | None = None
    # the headline score (`StoryIndex._headline_score`) of the later report (either way round when the pair has
    # no time), when it is the pair's score: higher than the one with summaries
    headline: float | None = None
    # the two terms that are all the headlines share and one name (`_one_name`), when that kept the headline
    # score out
    one_name: tuple[str, ...] = ()

    def __str__(self) -> str:
        return "\n".join(self.lines)


# ---------------------------------------------------------------------------------------------------
# Stored item vectors
# ---------------------------------------------------------------------------------------------------

# An item's vector is frozen when the item enters the index; the pipeline stores it with the item, so
# a restart puts the window back without extracting terms again (that took ~0.3 ms an item, seconds
# for a full window, at every cron run that had something new). Bump when the encoding changes, or
# when old vectors must not be reused.
# 1: a 16-bit term count (never released); 2: before installment terms ("2#part"); 3: before British -ise
# spellings were stemmed as -ize; 5: before "international" was its own stem (not "intern"); 6: the same
# vector without the count of headline terms (the vector's first terms, `StoryIndex._headline_score`): still
# read (the count is then found from the title) and stored again as 7, so VECTOR_KEY stays 6
VECTOR_FORMAT = 7
VECTOR_KEY = 6  # the format number in `vector_key`: bump with VECTOR_FORMAT when old vectors must not be reused
# format, term count (a hostile title can have more than 65,535), how many of the first terms are the headline's
_VEC_HEAD = struct.Struct("<BII")
_VEC_HEAD6 = struct.Struct("<BI")  # format 6: no headline count


def encode_vector(vec: Mapping[str, float], headline: int | None = None) -> bytes:
    """An item vector as bytes: format, term count, headline term count (``headline``: how many of the
    first terms are the headline's; all of them if not given), the weights as little-endian doubles
    (exact), then the terms joined by NUL (a term never holds one: normalize_text keeps no control
    character)."""
    n = len(vec)
    h = n if headline is None else headline
    return (_VEC_HEAD.pack(VECTOR_FORMAT, n, h) + struct.pack(f"<{n}d", *vec.values())
            + "\0".join(vec).encode("utf-8"))


def decode_vector(blob: bytes) -> dict[str, float] | None:
    """encode_vector's vector back, in the same order (see `decode_stored`)."""
    got = decode_stored(blob)
    return None if got is None else got[0]


def decode_stored(blob: bytes) -> tuple[dict[str, float], int | None] | None:
    """encode_vector's input back, in the same order, with its headline term count (None for a format 6
    vector, which has none); None for bytes of another format, that do not parse, or that do not hold a unit
    vector (or the empty one) over distinct terms, or a headline count above the term count: the caller then
    computes the vector again."""
    try:
        h: int | None
        if blob[:1] == bytes([6]):
            fmt, n = _VEC_HEAD6.unpack_from(blob)
            h, size = None, _VEC_HEAD6.size
        else:
            fmt, n, h = _VEC_HEAD.unpack_from(blob)
            size = _VEC_HEAD.size
            if fmt != VECTOR_FORMAT or h > n:
                return None
        end = size + 8 * n
        weights = struct.unpack_from(f"<{n}d", blob, size)
        # one string object per distinct term across items, as terms extracted through the index's word
        # cache are (a window of 100,000 items has ~2.5 million term references)
        keys = list(map(sys.intern, blob[end:].decode("utf-8").split("\0"))) if n else []
    except (struct.error, UnicodeDecodeError):
        return None
    if not n and len(blob) != end:  # the empty vector is the header alone (a damaged count reads 0)
        return None
    if len(keys) != n or not all(keys):
        return None
    out = dict(zip(keys, weights, strict=True))
    if len(out) != n:
        return None
    # vector() gives unit vectors: weights within [-1, 1] (so that fsum cannot overflow), squares summing
    # to 1 (NaN fails this too)
    if n and not (min(weights) >= -1.0 and max(weights) <= 1.0
                  and abs(math.fsum([w * w for w in weights]) - 1.0) < 1e-9):
        return None
    return out, h


def _headline(vec: Mapping[str, float], n: int) -> dict[str, float]:
    """The unit vector of an item's headline: its vector's first ``n`` terms (the headline's, weighed as in
    the vector: the same inverse story frequencies, boost and template factors), scaled to unit length."""
    return dict(_headline_pairs(vec.items(), n))


def _next_to(a: str, b: str, terms: Sequence[str]) -> bool | None:
    """Whether two terms stand next to each other in a text's terms (None: it lacks one of them)."""
    try:
        return abs(terms.index(a) - terms.index(b)) == 1
    except ValueError:
        return None


def _shares_one_word(q: Mapping[str, float], c: Mapping[str, float]) -> bool:
    """Whether an item's terms and a story's have at most one word in common (a word and the place it implies,
    "Kyiv": kyiv, ukraine, being one) and more than it: a subject ("Ukraine war" / "Ukraine talks", "Release
    notes" / "Meeting notes"), not an event (docs/stories.md, step 9). Not a one-word text repeated ("Fed")."""
    first = None
    n = 0
    for t in q:
        if t in c:
            n += 1
            if first is None:
                first = t
            elif _IMPLIES.get(first) != t and _IMPLIES.get(t) != first:
                return False
    return n < len(q) or n < len(c)


def _one_name(pair: Collection[str], headline: Sequence[str], others: Iterable[Sequence[str]]) -> bool:
    """Whether the two terms a headline shares with other headlines are one name: next to each other in
    the headline's terms and in every other headline that has both, at least one ("Winter Olympics",
    "Super Bowl", "Gisèle Pelicot"). Like one shared word, one shared name is a subject, not an event
    (docs/stories.md, step 8). Not when the two are all of the headline and of another headline: a
    headline of two words repeated word for word ("Bitcoin crashes"); but one word and the place it implies
    ("Kyiv": kyiv, ukraine) is one word, a subject, repeated or not."""
    a, b = pair
    if not _next_to(a, b, headline):
        return False
    # one word and the place it implies ("Kyiv": kyiv, ukraine) is one word, whole headline or not
    repeat = len(headline) == 2 and _IMPLIES.get(a) != b and _IMPLIES.get(b) != a
    found = False
    for terms in others:
        together = _next_to(a, b, terms)
        if together is False or (together and repeat and len(terms) == 2):
            return False
        found = found or together is True
    return found


def _headline_pairs(pairs: Iterable[tuple[str, float]], n: int) -> list[tuple[str, float]]:
    """`_headline` of a unit vector's (term, weight) pairs: the first ``n`` (all of them when ``n`` is
    negative or not below their count, as they are), made unit again (none if they weigh nothing)."""
    out = list(pairs)
    if n < 0 or n >= len(out):
        return out
    del out[n:]
    norm = math.sqrt(math.fsum([w * w for _, w in out]))
    return [(t, w / norm) for t, w in out] if norm > 0.0 else []


# ---------------------------------------------------------------------------------------------------
# The index
# ---------------------------------------------------------------------------------------------------


class _Item:
    """A live item: its story, time and unit vector (weights frozen at insertion), kept as a tuple of
    terms and an array of weights: a third of a dict's memory, and the index holds one per item. The
    only member of a story keeps no copy (None): its story's centroid is its vector, until a second
    member joins (`StoryIndex._insert` copies it then)."""

    __slots__ = ("story_id", "ts", "terms", "weights", "head", "src")

    def __init__(self, story_id: int, ts: float, vec: Mapping[str, float] | None, head: int = -1,
                 src: Hashable | None = None) -> None:
        self.story_id = story_id
        self.ts = ts  # published, POSIX seconds
        self.terms: tuple[str, ...] | None = None if vec is None else tuple(vec)
        self.weights: array[float] | None = None if vec is None else array("d", vec.values())
        self.head = head  # how many of the vector's first terms are the headline's (at least its length, or -1: all)
        # the source (feed) it came from, if known: a story whose latest reports hold one takes another report of
        # that source only through its full text (`StoryIndex._best`)
        self.src = src

    def pairs(self, st: _Story) -> Iterable[tuple[str, float]]:
        """(term, weight) of the item's vector; st is its story."""
        if self.terms is None or self.weights is None:
            return st.centroid.items()
        return zip(self.terms, self.weights, strict=True)


class _Story:
    """A story: the sum of its members' unit vectors (centroid) and what the index needs about it.

    Only the story's *head* terms are posted in the inverted index: its heaviest centroid terms, enough
    that the rest (the tail) cannot carry an item to the threshold on its own. ``tail2`` is the squared
    centroid weight on the tail; the index keeps ``sqrt(tail2) / (norm * factor) < threshold``.
    """

    __slots__ = ("story_id", "centroid", "counts", "norm2", "spec2", "tail2", "head", "members", "latest",
                 "first", "dirty", "norm", "factor", "recent")

    def __init__(self, story_id: int) -> None:
        self.story_id = story_id
        self.centroid: dict[str, float] = {}
        # members having each centroid term; None while the story has one member (every count is 1)
        self.counts: dict[str, int] | None = None
        self.norm2 = 0.0
        self.spec2 = 0.0  # squared centroid weight on specific terms (places, dates, numbers)
        self.tail2 = 0.0
        self.head: AbstractSet[str] = set()  # a _CutHead from _start until a second member joins
        self.members: dict[int, None] = {}  # live item ids, insertion order
        self.latest = -math.inf  # newest member's published time, POSIX seconds
        # earliest report's published time, evicted members too (a story spans at most the window from it)
        self.first = math.inf
        self.dirty = 0
        self.norm = 0.0  # sqrt(norm2), refreshed by the index after each change
        self.factor = 1.0  # cohesion divisor of the score, refreshed likewise
        # its latest HEADLINE_MEMBERS members by (published, id), oldest first: the reports its headline side
        # is made of (`StoryIndex._headline_score`); None while it has one member
        self.recent: list[int] | None = None

    def add(self, vec: Iterable[tuple[str, float]]) -> list[str]:
        """Add a unit vector; return the terms new to the story (they start in the tail)."""
        new: list[str] = []
        c, k, head = self.centroid, self.counts, self.head
        n2, s2, t2 = self.norm2, self.spec2, self.tail2
        if k is None and c:  # a second member: the counts so far are all 1
            k = self.counts = dict.fromkeys(c, 1)
        # (the first member's counts stay None: every one is 1)
        for t, w in vec:
            old = c.get(t)
            if old is None:
                new.append(t)
                c[t] = w
                if k is not None:
                    k[t] = 1
                d = w * w
            else:
                assert k is not None  # the term came from an earlier member
                nw = old + w
                c[t] = nw
                k[t] += 1
                d = nw * nw - old * old
            n2 += d
            if t not in head:
                t2 += d
            if t in _SPECIFIC or t[0].isdigit():
                s2 += d
        self.norm2, self.spec2, self.tail2 = n2, s2, t2
        return new

    def remove(self, vec: Iterable[tuple[str, float]]) -> list[str]:
        """Remove a unit vector; return the terms the story no longer has (dropped from the head)."""
        gone: list[str] = []
        c, k, head = self.centroid, self.counts, self.head
        assert k is not None, "remove() from a one-member story"
        assert isinstance(head, set)  # made a set when the story got its second member (StoryIndex._insert)
        n2, s2, t2 = self.norm2, self.spec2, self.tail2
        for t, w in vec:
            old = c[t]
            left = k[t] - 1
            in_tail = t not in head
            if left == 0:
                del c[t]
                del k[t]
                d = -old * old
                gone.append(t)
                head.discard(t)
            else:
                k[t] = left
                nw = old - w
                c[t] = nw
                d = nw * nw - old * old
            n2 += d  # a head term leaving takes its weight out of the norm too, not only out of the head
            if in_tail:
                t2 += d
            if t in _SPECIFIC or t[0].isdigit():
                s2 += d
        self.dirty += 1
        if self.dirty >= 64:  # incremental updates drift a little: recompute now and then
            self.dirty = 0
            n2 = s2 = t2 = 0.0
            for t, v in c.items():
                n2 += v * v
                if t not in head:
                    t2 += v * v
                if t in _SPECIFIC or t[0].isdigit():
                    s2 += v * v
        self.norm2, self.spec2, self.tail2 = max(n2, 0.0), max(s2, 0.0), max(t2, 0.0)
        return gone


class _CutHead(AbstractSet[str]):
    """The head `_split_head` chooses, kept as its cut instead of a set: the terms of centroid ``c`` at or
    above (weight, term) in (weight, term) order. Exact only while ``c`` does not change, so it is the head
    of a story from `StoryIndex._start` until its second member joins (its centroid is its first member's
    vector until then); that member replaces it with a set before the centroid changes
    (`StoryIndex._insert`), and a story evicted back to one member keeps the set. ~56 bytes where the set
    took 700-2,300: heads were the largest single part of the index's memory (docs/stories.md)."""

    __slots__ = ("_c", "_w", "_t")

    def __init__(self, c: Mapping[str, float], w: float, t: str) -> None:
        self._c, self._w, self._t = c, w, t

    def __contains__(self, t: object) -> bool:
        v = self._c.get(t)  # type: ignore[call-overload]
        return v is not None and (v > self._w or (v == self._w and t >= self._t))  # type: ignore[operator]

    def __iter__(self) -> Iterator[str]:
        w, cut = self._w, self._t
        return (t for t, v in self._c.items() if v > w or (v == w and t >= cut))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def squares(self, q: Mapping[str, float]) -> list[float]:
        """w * w for each (t, w) of q whose t is in the head (what _candidates sums; one call, not one a term)."""
        c, w0, cut = self._c, self._w, self._t
        return [w * w for t, w in q.items() if (v := c.get(t)) is not None and (v > w0 or (v == w0 and t >= cut))]

    @classmethod
    def _from_iterable(cls, it: Iterable[Any]) -> set[Any]:  # what the Set operators (a - b, ...) build
        return set(it)


def _split_head(c: Mapping[str, float], budget: float, cut: bool = False) -> tuple[AbstractSet[str], float]:
    """The fewest heaviest terms of a centroid that leave at most ``budget`` squared weight in the tail
    (ties by term), and the squared weight left in the tail. ``cut``: the head as a `_CutHead` (for a
    centroid that will not change while it is used; an empty head is the frozenset _NO_TERMS), else a
    set."""
    ordered = sorted(zip(c.values(), c, strict=True))  # (weight, term), lightest first
    tail2 = 0.0
    i = 0
    for v, _ in ordered:
        if tail2 + v * v > budget:
            break
        tail2 += v * v
        i += 1
    if cut:
        return (_CutHead(c, *ordered[i]) if i < len(ordered) else _NO_TERMS), tail2
    return {t for _, t in ordered[i:]}, tail2


_NO_TERMS: frozenset[str] = frozenset()


def _conflict(qspec: list[tuple[str, float]], c: Mapping[str, float], spec2: float, norm2: float) -> float:
    """min(item's squared weight on specific terms the story lacks, story's share on specific terms the
    item lacks); qspec are the item's specific terms with their unit-vector weights."""
    qa = 0.0
    shared = 0.0
    for t, w in qspec:
        if "#" in t and _other_installment(t, c):  # whether or not the story has t too: symmetric
            return 1.0
        v = c.get(t)
        if v is None:
            qa += w * w
        else:
            shared += v * v
    if qa == 0.0:
        return 0.0
    return min(qa, max(spec2 - shared, 0.0) / norm2)


def _other_installment(t: str, c: Mapping[str, float]) -> bool:
    """Whether the story has another installment of installment term t's series ("1#part" for "2#part"):
    two installments of a series are not one story, whatever else they share (conflict 1: a lexical score
    of 0)."""
    tail = t[t.index("#"):]
    return any(k != t and k.endswith(tail) for k in c if "#" in k)  # only installment terms hold a "#"


# The threshold is shared by the two bounds that let _best skip work exactly. A story's tail (its terms
# not in the inverted index) may carry an item at most _HEAD_REBUILD x threshold: past that the head is
# rebuilt so that the tail carries at most _HEAD_TARGET x threshold. The item's terms _best does not scan
# ("non-essential", as in MaxScore) may together carry any story at most the rest, (1 - _HEAD_REBUILD) x
# threshold: a story found through neither is below the threshold.
_HEAD_REBUILD = 0.2
_HEAD_TARGET = 0.1
# What a story's tail can carry, sqrt(tail2) / nf, is below _HEAD_REBUILD x threshold after every change
# (_refresh); with a margin for rounding, a bound of every story's that needs no lookup.
_TAIL_MAX = _HEAD_REBUILD * (1.0 + 1e-9)
# How far a story's nf may grow before its postings (c[t] / an earlier nf) are rewritten (_refresh).
_RESCALE = 1.25
# Postings at or above this are also kept in a term's *high* postings, so that a query can scan only those
# and bound the rest of the term's postings by this instead of the term's largest (_candidates).
_HIGH = 0.35
# A report with a summary is also scored on its headline (`StoryIndex._headline_score`) against the headlines of
# a story's latest HEADLINE_MEMBERS reports, for the stories its full score can reach the threshold with and
# those its headline vector can carry to HEADLINE_FLOOR x threshold against their full centroids: on a real
# news day and the 200 real feeds floors from 0.6 to 0.8 found the same joins, 0.9 lost three of the real feeds';
# 0.6 cost 1.7x the index time of 0.8 on the synthetic g200 corpus (headlines of common words).
HEADLINE_FLOOR = 0.8
HEADLINE_MEMBERS = 16
# The headline route's second candidate search scans the postings of the headline's rarest terms only: those
# the fewest live stories have, HEADLINE_SCAN stories together at most (`_past_cap`; a term's postings are the
# stories with it in their head, never more than the stories having it, so its cost per report is bounded
# whatever the window holds). The story counts, not the postings, choose the terms: they do not depend on how
# each story's head was cut, which a restarted index (add_known) can cut otherwise. The other terms still
# count in each candidate's bound, but a story that shares only them (common words: "says", "new", "police")
# with the headline is left to the full-text score. On the real news day and the 200 real feeds every headline
# join was found through terms that at most 16 stories have together; without a cap, the 10,000-source synthetic
# corpus (headlines of a few hundred common words) scanned postings of thousands at every report.
HEADLINE_SCAN = 256


def _past_cap(counts: Mapping[str, int], terms: Iterable[str], cap: int) -> list[str]:
    """The terms past the rarest ones, those whose counts together are at most ``cap``: terms taken lowest
    count first (ties: by term), the first that brings the total over ``cap`` and all after it."""
    order = sorted((counts[t], t) for t in terms)
    total = 0
    for i, (n, _) in enumerate(order):
        total += n
        if total > cap:
            return [t for _, t in order[i:]]
    return []


class _PostingsView(Mapping[str, Mapping[int, "_Story"]]):
    def __init__(self, weights: dict[str, dict[int, float]], stories: dict[int, _Story]) -> None:
        self._w, self._s = weights, stories

    def __getitem__(self, t: str) -> Mapping[int, _Story]:
        return {sid: self._s[sid] for sid in self._w[t]}

    def __iter__(self) -> Iterator[str]:
        return iter(self._w)

    def __len__(self) -> int:
        return len(self._w)


class _Semantic:
    """The semantic side of an index given an embedder: each live story's sum of its members' embeddings
    as one row of a dense matrix (rows of dead stories go to a free list and are reused), so that the
    semantic score of an item against every live story is one matrix-vector product.

    A story's semantic score is cos(item, sum) scaled by the same cohesion rule as the lexical score:
    (sum . e) / (||sum|| * factor), factor = min(1, max(||sum|| / members, min_cohesion)) ** cohesion_power.
    """

    def __init__(self, embedder: Embedder, config: StoryConfig) -> None:
        import numpy

        self.np: Any = numpy
        self.embedder = embedder
        self.config = config
        self.dim = 0  # known at the first embedding
        self.mat: Any = None  # (capacity, dim) float32: rows of story embedding sums
        self.nf: Any = None  # (capacity,) float64: ||sum|| * factor; inf for a free row (score 0)
        self.sid_of: list[int] = []  # row -> story id, -1 for a free row
        self.row_of: dict[int, int] = {}  # story id -> row
        self.free: list[int] = []
        self.top = 0  # rows ever used (the product runs over mat[:top])
        self.item_emb: dict[int, Any] = {}  # item id -> its embedding (subtracted when it leaves)
        self.dirty: dict[int, int] = {}  # row -> removals since its sum was recomputed
        self.pending: dict[str, Any] = {}  # title -> embedding computed ahead (precompute)

    def embed(self, titles: Sequence[str]) -> Any:
        np = self.np
        e = np.ascontiguousarray(self.embedder(titles), dtype=np.float32)
        if e.ndim != 2 or e.shape[0] != len(titles):
            raise ValueError(f"embedder returned shape {e.shape} for {len(titles)} texts")
        if not self.dim:
            self._grow(e.shape[1], 256)
        elif e.shape[1] != self.dim:
            raise ValueError(f"embedder returned {e.shape[1]} dimensions, not {self.dim}")
        return e

    def embed_one(self, title: str) -> Any:
        e = self.pending.get(title)
        if e is None:
            e = self.embed([title])[0].copy()
        return e

    def precompute(self, titles: Sequence[str]) -> None:
        """Embed titles in one batch for the next add/add_known calls (replaces the previous batch)."""
        uniq = list(dict.fromkeys(titles))
        e = self.embed(uniq) if uniq else []
        self.pending = {t: e[i].copy() for i, t in enumerate(uniq)}

    def _grow(self, dim: int, capacity: int) -> None:
        np = self.np
        mat = np.zeros((capacity, dim), dtype=np.float32)
        nf = np.full(capacity, np.inf, dtype=np.float64)
        if self.mat is not None:
            mat[: self.top] = self.mat[: self.top]
            nf[: self.top] = self.nf[: self.top]
        self.dim, self.mat, self.nf = dim, mat, nf

    def scores(self, e: Any) -> Any:
        """Semantic score of e against every row (0 for free rows), float64. einsum, not a BLAS gemv: a
        multi-threaded BLAS spins its threads on a matrix-vector product this small (10x the CPU on a
        busy 2-core machine), and einsum's result does not depend on the thread count."""
        top = self.top
        if not top:
            return self.np.zeros(0, dtype=self.np.float64)
        return self.np.einsum("ij,j->i", self.mat[:top], e) / self.nf[:top]

    def stories_at_least(self, sims: Any, low: float) -> list[int]:
        sid_of = self.sid_of
        return [sid for r in self.np.flatnonzero(sims >= low).tolist() if (sid := sid_of[r]) >= 0]

    def _refresh(self, row: int, n: int) -> None:
        v = self.mat[row]
        norm = math.sqrt(float(v @ v))
        nf = norm * self.config.cohesion_factor(norm, n)
        self.nf[row] = nf if nf > 0.0 else math.inf

    def insert(self, item_id: int, story_id: int, e: Any, n: int) -> None:
        """Add item_id's embedding to its story's sum (n: the story's member count, this item counted)."""
        row = self.row_of.get(story_id)
        if row is None:
            if self.free:
                row = self.free.pop()
                self.sid_of[row] = story_id
            else:
                if self.top == self.mat.shape[0]:
                    self._grow(self.dim, 2 * self.top)
                row = self.top
                self.top += 1
                self.sid_of.append(story_id)
            self.row_of[story_id] = row
            self.mat[row] = e
        else:
            self.mat[row] += e
        self.item_emb[item_id] = e
        self._refresh(row, n)

    def remove(self, item_id: int, story_id: int, members: Collection[int]) -> None:
        """Take item_id's embedding out of its story's sum; members: the story's remaining members."""
        e = self.item_emb.pop(item_id)
        row = self.row_of[story_id]
        if not members:
            del self.row_of[story_id]
            self.dirty.pop(row, None)
            self.mat[row] = 0.0
            self.nf[row] = math.inf
            self.sid_of[row] = -1
            self.free.append(row)
            return
        d = self.dirty.get(row, 0) + 1
        if d >= 64:  # incremental float32 updates drift a little: recompute now and then
            self.dirty[row] = 0
            item_emb = self.item_emb
            self.mat[row] = self.np.sum([item_emb[m] for m in members], axis=0, dtype=self.np.float32)
        else:
            self.dirty[row] = d
            self.mat[row] -= e
        self._refresh(row, len(members))


# A summary's terms are read from its first SUMMARY_HEAD_CHARS characters (or SUMMARY_HEAD_CHARS_PER_TERM
# per summary term, if more) when they hold summary_terms terms and _SUMMARY_MARGIN more: a feed that
# carries whole articles as summaries (50 kB of HTML is common) is not normalised and tokenised whole for
# a lede's 20 terms. The first 20 terms of prose lie within its first ~400 characters. The terms are those
# of the whole summary, but what `_terms` judges on the whole text is judged on the head: whether capitals
# are informative (Title Case) and whether the text is all caps (which also decides whether its short
# all-caps words are acronyms) -- for summaries longer than the head only.
SUMMARY_HEAD_CHARS = 4_000
MAX_TITLE_CHARS = 2_000  # of a title, read for its terms (a headline is well under it)
SUMMARY_HEAD_CHARS_PER_TERM = 200
_SUMMARY_MARGIN = 2 * _PHRASE_WORDS


def _summary_head(text: str, n: int) -> str:
    """A head of text of at most n characters that normalises to the start of what the whole text
    normalises to, or text itself (short, or no such cut): cut at the last space or tag end before n, then
    before a tag the cut would split (the first '<' after the last '>': in the whole text that '<' strips
    everything up to a later '>'). A tag written escaped (&lt;...&gt;, &#60;...) is stripped only after
    the entities are decoded; if the head holds an unclosed one, there is no such cut."""
    if len(text) <= n:
        return text
    cut = max(text.rfind(" ", 0, n), text.rfind("\n", 0, n), text.rfind(">", 0, n - 1) + 1)
    if cut <= 0:  # one unbroken run: no place to cut
        return text
    head = text[:cut]
    i = head.find("<", head.rfind(">") + 1)
    if i >= 0:
        head = head[:i]
    if "&" in head:
        decoded = html.unescape(_TAG.sub(" ", head))
        if decoded.find("<", decoded.rfind(">") + 1) >= 0:
            return text
    return head


# A feed's template: terms found in at least TEMPLATE_MIN_SHARE of its document's entries and in at least
# TEMPLATE_MIN_ENTRIES of them, the document having PROFILE_MIN_ENTRIES or more, and in entries published
# further apart than the story window: a template recurs for longer than a story lives, while one event
# that several of a feed's entries report (a news site's re-reports, the very thing stories collapse) falls
# inside one window (docs/stories.md).
PROFILE_MIN_ENTRIES = 5
TEMPLATE_MIN_ENTRIES = 3
TEMPLATE_MIN_SHARE = 0.2


# Siblings: two entries of one feed document whose titles are one frame with different fillings ("Secure
# SSH Setup" / "Secure User Setup", "SOLID Principles - OCP" / "- SRP", "Inside geoWrite - 4: Zero Page" /
# "- 3: Font Management") are two posts of a series, never one story (`siblings`, `StoryIndex.add`'s
# ``exclude``). The frame (common leading and trailing words) has at least SIBLING_MIN_FRAME words; each
# title's filling has a term, and the two fillings share no term. At most SIBLING_BUCKET titles (the first
# given: source_profile gives them newest first) are compared per shared pair of words, so a document of
# 1,000 entries costs a bounded number of comparisons.
SIBLING_MIN_FRAME = 2
SIBLING_BUCKET = 64


# A wire service's revision marker: "UPDATE 2-Oil sinks ...", "... -- 2nd Update", "... (Update 3)", "REFILE-...".
# Revisions of one report are not posts of a series: without their markers, the titles are the same report's.
_REVISION = re.compile(
    r"(?i)^\s*(?:update|updated|refile|corrected|rpt|wrapup)(?:\s*\d{1,2})?\s*[-:\u2013\u2014]+\s*"
    r"|\s*(?:[-\u2013\u2014]+|\(|\[)\s*(?:(?:\d{1,2}(?:st|nd|rd|th)|first|second|third|fourth|fifth|sixth"
    r"|seventh|eighth|ninth|tenth)\s+)?update(?:d)?(?:\s*\d{1,2})?\s*[)\]]?\s*$")


def without_revision(title: str) -> str:
    """A title without a wire revision marker (`_REVISION`), at its start or end."""
    return _REVISION.sub("", title)


def siblings(titles: Iterable[str], cache: dict[str, str] | None = None) -> dict[str, frozenset[str]]:
    """Title -> the titles of one feed document that are its siblings (see SIBLING_MIN_FRAME): the same
    frame of words (compared lower-cased, after normalize_text) around fillings that each have a term
    and that share no term, whether the filling is read whole (a phrase: "Prime Minister" is "pm") or
    word by word. Symmetric; a title is never its own sibling, and titles that differ only in what the
    tokeniser or the stopwords drop ("over" / "after") are not siblings.
    ``titles``: newest first (the first SIBLING_BUCKET of a bucket are compared). ``cache``: word ->
    term key, as `_terms` keeps it."""
    if cache is None:
        cache = {}
    raw: dict[str, list[str]] = {}  # title -> its words
    for t in titles:
        if t and t not in raw:
            ws = _tokens(_chunks(without_revision(t)))  # a report's revisions are not a series
            if len(ws) > SIBLING_MIN_FRAME:  # room for a frame and a filling
                raw[t] = ws
    words = {t: [w.lower() for w in ws] for t, ws in raw.items()}
    word_terms: dict[str, frozenset[str]] = {}
    title_terms: dict[str, list[frozenset[str]]] = {}

    def terms_at(t: str) -> list[frozenset[str]]:
        """Each word's terms in title t (computed when a pair first needs them)."""
        got = title_terms.get(t)
        if got is None:
            got = title_terms[t] = []
            for w in raw[t]:
                k = word_terms.get(w)
                if k is None:
                    known = cache.get(w)  # a plain word seen before: its key, "" for a stopword
                    if known is not None:
                        k = frozenset((known,)) if known else frozenset()
                    else:
                        k = frozenset(key for key, _ in _terms(w, cache, installments=False))
                    word_terms[w] = k
                got.append(k)
        return got

    def whole(t: str, start: int, end: int) -> frozenset[str]:
        """The terms of words start..end of title t read as one text (phrases, implied places)."""
        return frozenset(k for k, _ in _terms(" ".join(raw[t][start:end]), cache, installments=False))

    # titles sharing a frame of two words share their first two, their last two, or their first and last
    buckets: dict[tuple[str, str, str], list[str]] = {}
    for t, w in words.items():
        for key in (("p", w[0], w[1]), ("s", w[-2], w[-1]), ("b", w[0], w[-1])):
            b = buckets.setdefault(key, [])
            if len(b) < SIBLING_BUCKET:
                b.append(t)
    out: dict[str, set[str]] = {}
    done: set[tuple[str, str]] = set()
    for b in buckets.values():
        for i, a in enumerate(b):
            x = words[a]
            for c in b[i + 1 :]:
                if (a, c) in done:
                    continue
                done.add((a, c))
                y = words[c]
                if x == y:
                    continue
                m = min(len(x), len(y))
                p = 0
                while p < m and x[p] == y[p]:
                    p += 1
                s = 0
                while s < m - p and x[-1 - s] == y[-1 - s]:
                    s += 1
                if p + s < SIBLING_MIN_FRAME or p + s == len(x) or p + s == len(y):
                    continue  # too small a frame, or one title is the other with words added
                other = set().union(*terms_at(c)[p : len(y) - s])
                if any(not k.isdisjoint(other) for k in terms_at(a)[p : len(x) - s]):
                    continue  # the fillings share a word's term: a rewording, not another post of the series
                fa, fc = whole(a, p, len(x) - s), whole(c, p, len(y) - s)
                if not fa or not fc or not fa.isdisjoint(fc):
                    continue  # a filling of stopwords only ("over" / "after"), or a shared phrase
                out.setdefault(a, set()).add(c)
                out.setdefault(c, set()).add(a)
    return {t: frozenset(v) for t, v in out.items()}


@dataclass(frozen=True)
class SourceProfile:
    """What one feed document's entries have in common: its *template* (a series name, a column's label,
    the boilerplate of its summaries), which says nothing about which event an item reports.

    ``factors``: template term -> the factor its weight is multiplied by in that feed's items, the term's
    inverse document frequency within the document, log((n + 1) / (df + 0.5)), over that of a term of
    one entry, log((n + 1) / 1.5). ``terms``: the entries' extracted terms, reused by `StoryIndex.vector`.
    ``siblings``: title -> the titles of the document's other posts of one series (`siblings`), whose
    items the caller passes to `StoryIndex.add` as ``exclude``.
    """

    factors: Mapping[str, float]
    terms: Mapping[tuple[str, str], tuple[list[tuple[str, bool]], list[tuple[str, bool]]]]
    settings: tuple[float, int]  # (summary_weight, summary_terms) the terms were extracted under
    siblings: Mapping[str, frozenset[str]]

    def sibling_items(self, title: str, items_of_title: Mapping[str, Sequence[int]]) -> list[int]:
        """The items of a title's siblings in this document (``items_of_title``: the document's items by
        title, stored or new): what `StoryIndex.add` takes as ``exclude`` for an item with that title."""
        return [i for t in self.siblings.get(title, ()) for i in items_of_title.get(t, ())]


class StoryIndex:
    """Online story clustering over a sliding time window.

    Memory is bounded by what is live: call ``evict(now)`` as time passes. Deterministic: the same
    sequence of calls gives the same stories.

    With an ``embedder`` (texts -> unit float32 rows, e.g. ``feeds.semantic.load_model().embed``) the
    index runs in semantic mode: each title is embedded, each story keeps the sum of its members'
    embeddings, and the score is ``w * lexical + (1 - w) * semantic`` (``config.semantic_weight``),
    compared with ``config.threshold`` (SEMANTIC_THRESHOLD is the measured operating point). Without
    one, nothing of this runs and numpy is not imported.
    """

    def __init__(self, config: StoryConfig | None = None, embedder: Embedder | None = None) -> None:
        self.config = config if config is not None else StoryConfig()
        if embedder is not None and not 0.0 < self.config.semantic_weight < 1.0:
            raise ValueError(f"semantic_weight must be in (0, 1), got {self.config.semantic_weight}")
        self._sem = _Semantic(embedder, self.config) if embedder is not None else None
        self._items: dict[int, _Item] = {}
        self._stories: dict[int, _Story] = {}
        # head term -> {story id: the story's centroid weight on the term / its ref, an earlier nf (see
        # _refresh)} (insertion order), kept up to date by _refresh so that a lookup reads no story
        self._weights: dict[str, dict[int, float]] = {}
        self._high: dict[str, dict[int, float]] = {}  # the postings >= _HIGH of each term having some
        self._df: dict[str, int] = {}  # term -> number of live stories having it
        # head term -> upper bound of centroid weight / (norm * factor) over the stories posted for it,
        # and how often it was raised or a posting dropped since it was last exact (see _term_bounds)
        self._ub: dict[str, float] = {}
        self._ub_stale: dict[str, int] = {}
        # story id -> norm * factor (nf, the score's divisor); the nf its postings are divided by (ref,
        # see _refresh); (ref / nf, sqrt(tail2) / nf), copied from the story so that the first filters of
        # _candidates read no story object
        self._nf: dict[int, float] = {}
        self._ref: dict[int, float] = {}
        self._scale: dict[int, tuple[float, float]] = {}
        # the stories whose tail bound (_scale's second value) is not 0: few (~2 % of one-report stories),
        # so _candidates' first filter can ask a small set instead of _scale about every other story
        self._tailed: set[int] = set()
        self._heap: list[tuple[float, int, int]] = []  # (published POSIX seconds, seq, item_id)
        self._seq = 0
        self._keys: dict[str, str] = {}  # word -> term key (cache, cleared when large)
        self._prior: dict[str, float] = {}  # term key -> prior_docs x its prior share (cache, likewise)
        self._window_s = self.config.window.total_seconds()
        # whether a report with a summary is also scored on its headline alone (`_headline_score`)
        cfg = self.config
        self._by_headline = embedder is None and cfg.headline_route
        self._named: tuple[str, ...] = ()  # the name the last `_headline_score` stopped at (`_one_name`), if any

    def __len__(self) -> int:
        return len(self._items)

    @property
    def _postings(self) -> Mapping[str, Mapping[int, _Story]]:
        """The inverted index as head term -> {story id: story} (a read-only view, for inspection)."""
        return _PostingsView(self._weights, self._stories)

    @property
    def story_count(self) -> int:
        return len(self._stories)

    @property
    def semantic(self) -> bool:
        """Whether the index blends in the semantic score (it was given an embedder)."""
        return self._sem is not None

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """The embedder's unit rows for texts (semantic mode only)."""
        if self._sem is None:
            raise ValueError("the index has no embedder")
        e: FloatArray = self._sem.embed(list(texts))
        return e

    def precompute(self, titles: Sequence[str]) -> None:
        """Semantic mode: embed the titles of the next items in one batch (several times faster than one at
        a time); the following add/add_known calls for these titles use them. No-op without an embedder."""
        if self._sem is not None:
            self._sem.precompute(titles)

    def story_of(self, item_id: int) -> int | None:
        it = self._items.get(item_id)
        return None if it is None else it.story_id

    def members(self, story_id: int) -> tuple[int, ...]:
        st = self._stories.get(story_id)
        return () if st is None else tuple(st.members)

    # -- weighting ------------------------------------------------------------------------------

    def _terms(self, text: str, limit: int | None = None, installments: bool = True) -> list[tuple[str, bool]]:
        if len(self._keys) > 100_000:
            self._keys.clear()
        if len(self._prior) > 100_000:
            self._prior.clear()
        return _terms(text, self._keys, limit, installments)

    def _known_terms(self, title: str, summary: str, profile: SourceProfile | None
                     ) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]] | None:
        """An item's (title, summary) terms as its feed document's profile extracted them under the current
        settings, if it has them (`source_profile`): the pipeline's items never extract their terms twice."""
        cfg = self.config
        if profile is not None and profile.settings == (cfg.summary_weight, cfg.summary_terms):
            return profile.terms.get((title, summary))
        return None

    def _title_terms(self, title: str) -> list[tuple[str, bool]]:
        # a headline's terms are read from its first MAX_TITLE_CHARS characters: a hostile 4 MB title cost
        # 14 s and 385 MB when read, and 4.5 s at every later run of the story window (its stored vector)
        return self._terms(title[:MAX_TITLE_CHARS] if len(title) > MAX_TITLE_CHARS else title)

    def _item_terms(self, title: str, summary: str) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
        """The terms vector() weighs: the title's, and the summary's first summary_terms (none when
        summaries do not count), read from its head (`_summary_head`) when that holds them all."""
        cfg = self.config
        n = cfg.summary_terms
        title_terms = self._title_terms(title)
        if not summary or cfg.summary_weight <= 0 or n <= 0:
            return title_terms, []
        head = _summary_head(summary, max(SUMMARY_HEAD_CHARS, SUMMARY_HEAD_CHARS_PER_TERM * n))
        if head is not summary:
            # _SUMMARY_MARGIN terms more than needed: the n-th term's words are then followed by words of the
            # head (at least half of those terms are words, an implied term comes after its word), so it is
            # not a phrase the cut broke ("prime" of "Prime Minister" read as its own term)
            got = self._terms(head, n + _SUMMARY_MARGIN, installments=False)
            if len(got) == n + _SUMMARY_MARGIN:
                return title_terms, got[:n]
        return title_terms, self._terms(summary, n, installments=False)  # short, or too few in the head

    def source_profile(self, entries: Iterable[tuple[str, str, float]]) -> SourceProfile:
        """The template of one feed document from its entries' (title, summary, published POSIX seconds):
        see SourceProfile. A document of fewer than PROFILE_MIN_ENTRIES distinct (title, summary) entries
        has none; a term is template only if the entries having it span more than the window (an entry
        listed twice counts once, at its earliest time)."""
        extracted: dict[tuple[str, str], tuple[list[tuple[str, bool]], list[tuple[str, bool]]]] = {}
        when: dict[tuple[str, str], float] = {}  # entry -> its earliest published time (a re-listing counts once)
        for title, summary, ts in entries:
            text = (title, summary)
            if text not in extracted:
                extracted[text] = self._item_terms(title, summary)
                when[text] = ts
            elif ts < when[text]:
                when[text] = ts
        df: dict[str, int] = {}
        first: dict[str, float] = {}  # term -> earliest and latest time of the entries having it
        last: dict[str, float] = {}
        for text, (tt, ss) in extracted.items():
            ts = when[text]
            for key in {k for k, _ in tt} | {k for k, _ in ss}:
                df[key] = df.get(key, 0) + 1
                if ts < first.get(key, math.inf):
                    first[key] = ts
                if ts > last.get(key, -math.inf):
                    last[key] = ts
        n = len(extracted)
        factors: dict[str, float] = {}
        if n >= PROFILE_MIN_ENTRIES:
            least = max(TEMPLATE_MIN_ENTRIES, TEMPLATE_MIN_SHARE * n)
            one = math.log((n + 1) / 1.5)
            span = self._window_s
            for key, d in df.items():
                if d >= least and last[key] - first[key] > span:
                    factors[key] = min(1.0, max(0.0, math.log((n + 1) / (d + 0.5)) / one))
        newest_first = sorted(extracted, key=lambda text: -when[text])
        return SourceProfile(factors, extracted, (self.config.summary_weight, self.config.summary_terms),
                             siblings((t for t, _ in newest_first), self._keys))

    def vector(self, title: str, summary: str = "", profile: SourceProfile | None = None) -> dict[str, float]:
        """Unit vector of an item under the current weights (term -> weight): a term weighs its inverse
        story frequency, log((n0 + stories + 1) / (n0 * prior share + stories having it + 1)) — window
        counts smoothed by the background prior — times the entity boost, times summary_weight for a
        summary term, times its factor in ``profile`` (the item's feed document) if it is a template term."""
        return self._vector(title, summary, profile)[0]

    def _vector(self, title: str, summary: str = "", profile: SourceProfile | None = None
                ) -> tuple[dict[str, float], int]:
        """`vector`, and how many of its first terms are the headline's (the headline's terms come first)."""
        cfg = self.config
        boost = cfg.entity_boost
        n0 = cfg.prior_docs
        df = self._df.get
        log = math.log
        top = log(n0 + len(self._stories) + 1.0)
        prior = self._prior
        raw: dict[str, float] = {}
        known = self._known_terms(title, summary, profile)
        title_terms, summary_terms = known if known is not None else self._item_terms(title, summary)
        for key, entity in title_terms:
            p = prior.get(key)
            if p is None:
                p = prior[key] = n0 * _prior_df(key)
            w = top - log(p + df(key, 0) + 1.0)
            raw[key] = w * boost if entity else w
        n_title = len(raw)
        if summary_terms:
            sw = cfg.summary_weight
            for key, entity in summary_terms:
                if key in raw:
                    continue
                p = prior.get(key)
                if p is None:
                    p = prior[key] = n0 * _prior_df(key)
                w = (top - log(p + df(key, 0) + 1.0)) * sw
                raw[key] = w * boost if entity else w
        if profile is not None and profile.factors:
            for key, f in profile.factors.items():
                if key in raw:
                    raw[key] *= f
        n = math.sqrt(sum([v * v for v in raw.values()]))
        if n == 0.0:
            return {}, 0
        return {k: v / n for k, v in raw.items()}, n_title

    def _refresh(self, st: _Story, changed: Iterable[str] = ()) -> None:
        """Recompute a story's norm and its score divisor nf (norm x cohesion ** cohesion_power, cohesion
        being the mean cosine of members to their centroid, ||centroid|| / n, floored at min_cohesion),
        rebuild its head if the tail has grown too heavy, and bring its postings and its head terms'
        bounds (`_ub`) up to date. ``changed``: the terms whose centroid weight changed since the last
        refresh.

        A story's postings hold c[t] / ref, ref being an earlier nf of the story's, never above the
        current one and at least the current one / _RESCALE (``_scale``: ref / nf, in [1 / _RESCALE, 1]):
        a posting is thus never below the exact c[t] / nf and at most _RESCALE times it, and a growing
        story's postings are rewritten only when its nf has grown past that (its nf falling below ref, or
        its head being rebuilt, rewrites them at once). The bounds are kept on the exact c[t] / nf: when nf
        did not fall and the head was not rebuilt, only the changed terms' can have passed their bound, so only
        they are checked, and the bounds end up as checking the whole head would leave them."""
        cfg = self.config
        st.norm = norm = math.sqrt(st.norm2)
        st.factor = cfg.cohesion_factor(norm, len(st.members))
        nf = norm * st.factor
        lim = cfg.threshold * nf
        sid = st.story_id
        old_nf = self._nf.get(sid)
        rebuilt = st.tail2 >= (_HEAD_REBUILD * lim) ** 2
        if rebuilt:
            self._rebuild_head(st, (_HEAD_TARGET * lim) ** 2)
        self._nf[sid] = nf
        if nf <= 0.0:  # no terms: nothing is posted
            self._ref[sid] = 1.0
            self._set_scale(sid, 1.0, 0.0)
            return
        ref = self._ref.get(sid)
        head, c, ub, stale = st.head, st.centroid, self._ub, self._ub_stale
        if rebuilt or ref is None or nf < ref or nf > _RESCALE * ref:
            self._ref[sid] = nf
            self._set_scale(sid, 1.0, math.sqrt(st.tail2) / nf)
            for t in head:  # every posting rewritten and checked
                # (x / 1.0 == x: a story whose nf is exactly 1 -- about half the one-report stories --
                # posts its centroid's own float objects instead of equal copies, ~24 bytes a posting)
                r = c[t] if nf == 1.0 else c[t] / nf
                self._post(t, sid, r)
                if r > ub.get(t, 0.0):
                    ub[t] = r
                    stale[t] = stale.get(t, 0) + 1
            return
        self._set_scale(sid, ref / nf, math.sqrt(st.tail2) / nf)
        part = [t for t in changed if t in head]
        for t in part:
            self._post(t, sid, c[t] if ref == 1.0 else c[t] / ref)
        for t in part if old_nf is not None and nf >= old_nf else head:
            r = c[t] / nf
            if r > ub.get(t, 0.0):
                ub[t] = r
                stale[t] = stale.get(t, 0) + 1

    def _set_scale(self, sid: int, k: float, tn: float) -> None:
        """Set a story's (ref / nf, tail bound) in _scale, and its membership of _tailed."""
        self._scale[sid] = (k, tn)
        if tn > 0.0:
            self._tailed.add(sid)
        else:
            self._tailed.discard(sid)

    def _rebuild_head(self, st: _Story, budget: float) -> None:
        """Post the fewest heaviest terms that leave at most ``budget`` squared weight in the tail."""
        head, tail2 = _split_head(st.centroid, budget)
        old = st.head
        sid = st.story_id
        for t in old - head:
            self._drop_posting(t, sid)
        weights = self._weights
        for t in head - old:  # posted at 0.0 here; _refresh writes c[t] / nf
            post = weights.get(t)
            if post is None:
                weights[t] = {sid: 0.0}
            else:
                post[sid] = 0.0
        st.head = head
        st.tail2 = tail2

    # -- matching -------------------------------------------------------------------------------

    def title_keys(self, title: str, summary: str, profile: SourceProfile | None = None) -> frozenset[str] | None:
        """The terms of an item's headline when it names a place, a date or a number: then those are the ones
        its conflict with a story counts (`_conflict`), not its summary's, which are mostly background (ages,
        measurements, an earlier event) and kept apart reports of one event whose headlines agree (a review
        of a real news day: "US kills 11 people in three strikes on alleged drug-trafficking vessels" /
        "Strikes on 3 more alleged drug boats kill 11", 0.687 on their headlines, 0.466 with their
        summaries). None (every term counts) when the summary adds no terms, or when the headline names none
        and leaves it to the summary to say which event it is (a changelog's entries titled by one name)."""
        cfg = self.config
        if not summary or cfg.summary_weight <= 0 or cfg.summary_terms <= 0:
            return None
        known = self._known_terms(title, summary, profile)
        title_terms = known[0] if known is not None else self._title_terms(title)
        if not any(_specific(k) for k, _ in title_terms):
            return None
        return frozenset(k for k, _ in title_terms)

    def _best(self, vec: Mapping[str, float], ts: float, avoid: Collection[int] = (),
              spec_keys: Collection[str] | None = None, headline: Mapping[str, float] | None = None,
              source: Hashable | None = None) -> tuple[_Story | None, float, float]:
        """The story with the highest score (ties: lower story id), its score, and its score with the summary
        (the same unless its headline score is higher): every story of `_candidates` scored exactly, except the
        stories in ``avoid`` (ids).
        ``score`` is exact for every story that can reach the threshold; for a new story it is the best score
        among those scored (0.0 when there is none). ``spec_keys``: the terms whose places, dates and numbers
        count in a conflict (`title_keys`; None: all). ``headline``: the item's headline vector (`_headline`)
        when it has a summary: then the candidates also take the stories its headline vector can carry to
        HEADLINE_FLOOR x threshold against their full centroids among those with one of its rarest terms
        (`_candidates` at that bar, scanning at most HEADLINE_SCAN postings), and each one's
        score is the higher of its score and its `_headline_score`, except for a story whose latest reports (its
        headline side, `_latest`) hold a report of the item's ``source`` and, when the headline names no place,
        date or number, a story the summary's places, dates and numbers conflict with."""
        if not vec:
            return None, 0.0, 0.0
        df = self._df
        # Only terms some live story has can be shared.
        q = {t: w for t, w in vec.items() if t in df}
        if not q:
            return None, 0.0, 0.0
        thr = self.config.threshold
        cands = self._candidates(q, ts)
        hq = None
        if headline:
            hq = {t: w for t, w in headline.items() if t in df}
            if hq:
                # the stories the item's headline vector carries to HEADLINE_FLOOR x threshold: with its own unit
                # weights, so that a headline repeated word for word is found however heavy the summaries are
                seen = {st.story_id for st in cands}
                cands += [st for st in self._candidates(hq, ts, thr * HEADLINE_FLOOR, HEADLINE_SCAN)
                          if st.story_id not in seen]
        if avoid:
            cands = [st for st in cands if st.story_id not in avoid]
        if not cands:
            return None, 0.0, 0.0
        penalty = self.config.conflict_penalty
        qspec = _spec(vec, spec_keys) if penalty else []
        hspec = _spec(headline) if headline and penalty else []
        items = self._items
        best: _Story | None = None
        best_score = best_full = 0.0
        for st in cands:
            full = score = self._lexical_score(q, qspec, st)
            if full >= best_score and full and _shares_one_word(vec, st.centroid):
                full = score = 0.0
            # a headline naming no place, date or number leaves it to the summary to say which event it is
            # (`title_keys`): then only a story the summary's places, dates and numbers do not conflict with
            if hq and (spec_keys is not None or not qspec or st.spec2 <= 0.0
                       or not _conflict(qspec, st.centroid, st.spec2, st.norm2)):
                hs = self._headline_score(hq, hspec, st, headline or ())  # (hq: terms of headline)
                # its own feed among the reports its headline side is made of: its text must join it
                if hs > score and (source is None or all(items[m].src != source for m in self._latest(st))):
                    score = hs
            sid = st.story_id
            if score > best_score or (score == best_score and best is not None and sid < best.story_id):
                best, best_score, best_full = st, score, full
        return best, best_score, best_full

    @staticmethod
    def _latest(st: _Story) -> Iterable[int]:
        """A story's latest HEADLINE_MEMBERS reports by (published, id), newest first: its headline side."""
        return reversed(st.recent) if st.recent is not None else st.members

    def _headline_score(self, hq: Mapping[str, float], hspec: list[tuple[str, float]], st: _Story,
                        headline: Iterable[str]) -> float:
        """The score of an item's headline (``hq``: its headline vector's terms that some live story has;
        ``hspec``: their places, dates and numbers; ``headline``: all its headline's terms, in order) against
        the headlines of the story's latest HEADLINE_MEMBERS reports (by published time, then id: not the order
        they came in, which a restart does not keep), summed newest first: as `_lexical_score` against a story
        whose centroid is the sum of their headline vectors (`_headline`), its cohesion too. 0.0 when they
        share fewer than two terms (one shared word, "AI", is a subject, not an event), or two that are one
        name (`_one_name`: "Winter Olympics" is a subject too)."""
        items = self._items
        c: dict[str, float] = {}
        get = c.get
        k = 0
        heads: list[list[tuple[str, float]]] = []
        for mid in self._latest(st):
            it = items[mid]
            pairs = _headline_pairs(it.pairs(st), it.head)
            if not pairs:
                continue
            for t, w in pairs:
                c[t] = get(t, 0.0) + w
            k += 1
            heads.append(pairs)
        shared = hq.keys() & c.keys()
        if len(shared) < 2:
            return 0.0
        if len(shared) == 2:
            order = list(headline)
            if _one_name(shared, order, ([t for t, _ in pairs] for pairs in heads)):
                self._named = tuple(t for t in order if t in shared)  # (for `explain`, through `_against_one`)
                return 0.0
        norm2 = math.fsum([w * w for w in c.values()])
        norm = math.sqrt(norm2)
        cfg = self.config
        score = math.fsum([hq[t] * c[t] for t in shared]) / (norm * cfg.cohesion_factor(norm, k))
        if hspec:
            spec2 = math.fsum([w * w for t, w in c.items() if _specific(t)])
            if spec2 > 0.0:
                score *= 1.0 - cfg.conflict_penalty * _conflict(hspec, c, spec2, norm2)
        return score

    def _candidates(self, q: Mapping[str, float], ts: float, thr: float | None = None,
                    scan_cap: int | None = None) -> list[_Story]:
        """The stories in the window whose lexical score may reach the threshold (``thr`` if given, not above
        the index's, which bounds the story tails) (``q``: the item's terms
        that some live story has): those whose bound -- the dot product over the item's terms in the
        story's head, plus what the item's other terms can meet in its tail -- reaches it. A story left
        out scores below the threshold; which stories are returned does not depend on how they are found.

        MaxScore over the inverted index: each head term has an upper bound of what it can add to any
        story's score (the item's weight times `_ub`, the term's largest exact c[t] / nf; a posting, c[t] / ref,
        may be up to _RESCALE above it). The item's terms with
        the smallest bounds, together under thr - _HEAD_REBUILD x the index's threshold, are not scanned
        (they are *non-essential*); candidates are the stories with one of the other terms in their head. A
        story found through neither shares only non-essential or tail terms with the item and, with the tail
        bounded by _HEAD_REBUILD x the index's threshold, has a bound below thr. A candidate's bound is
        first taken with the scanned terms at its postings and the rest at their bounds (most candidates
        stop there, most of them without a lookup), then with its exact head dot product. Its lookups of
        the non-essential terms go from the largest bound down and stop once what is left of them cannot
        lift it to the threshold (a story without a tail, most of them, must reach the threshold less the
        non-essential bounds on its scanned terms alone, before any lookup).

        ``scan_cap``: scan only the postings of the item's rarest terms, those held by the fewest live stories,
        at most that many stories together (`_past_cap` over the story counts); the others are non-essential
        whatever their bounds. Then only the stories with one of those rarest terms in their head are
        returned (those whose bound reaches ``thr``)."""
        bar = self.config.threshold  # what the story tails are kept under (a share of it, `_refresh`)
        if thr is None:
            thr = bar
        assert thr >= _HEAD_REBUILD * bar, "a lower bar than the tails' bound would need a scan of every story"
        budget = thr - _HEAD_REBUILD * bar - 1e-9
        postings, high = self._weights, self._high
        # What not to scan, chosen greedily, the most postings saved per unit of bound first: a term's
        # postings below _HIGH (bound w x min(_HIGH, ub)), then the rest of them (the remaining bound).
        options: list[tuple[float, str, int, int, float]] = []  # (key, term, from level, to level, bound)
        bounds = self._term_bounds(q)
        for b, t, w in bounds:
            n = len(postings[t])
            h = high.get(t)
            nh = len(h) if h else 0
            low = min(b, w * _HIGH)
            if nh == 0:  # every posting below _HIGH
                options.append((-n / (low + 1e-12), t, 0, 2, low))
            elif nh == n:
                options.append((-n / (b + 1e-12), t, 0, 2, b))
            else:
                options.append((-(n - nh) / (low + 1e-12), t, 0, 1, low))
                options.append((-nh / (b - low + 1e-12), t, 1, 2, b - low))
        options.sort()
        ne = 0.0  # sum of the bounds of what is not scanned
        level: dict[str, int] = dict.fromkeys(q, 0)  # 0: scanned, 1: only the high postings, 2: not at all
        unscanned: dict[str, float] = {}  # term -> the bound of what of its postings is not scanned
        if scan_cap is not None:  # not scanned at all: the terms past the cap (their bounds still count)
            # (counted over all the item's terms, those only in story tails too: which terms have postings
            # depends on how the heads were cut, the story counts do not)
            w_ub = {t: b for b, t, _ in bounds}
            for t in _past_cap(self._df, q, scan_cap):
                if t not in w_ub:  # no postings: nothing to scan
                    continue
                b = w_ub[t]
                ne += b
                level[t] = 2
                unscanned[t] = b
        for _, t, lv, to, b in options:
            if level[t] == lv and ne + b < budget:
                ne += b
                level[t] = to
                unscanned[t] = unscanned.get(t, 0.0) + b
        weight = q.get
        scan: list[tuple[dict[int, float], float]] = []
        # postings, w, the largest not counted, the bound of what is not counted
        skipped: list[tuple[dict[int, float], float, float, float]] = []
        for t, lv in level.items():
            post = postings.get(t)
            if post is None:
                continue
            w = weight(t, 0.0)
            if lv == 0:
                scan.append((post, w))
            elif lv == 1:
                h = high.get(t)
                if h:
                    scan.append((h, w))
                skipped.append((post, w, _HIGH, unscanned[t]))
            else:
                skipped.append((post, w, math.inf, unscanned[t]))
        if not scan:
            return []
        skipped.sort(key=lambda e: -e[3])
        left = math.fsum([e[3] for e in skipped]) + 1e-9  # their bounds' sum (over, never under: rounding)
        # candidate -> sum over its scanned head terms of w x posting (>= its exact dot product / nf)
        acc = self._accumulate(scan)
        window = self._window_s
        r2 = math.fsum([w * w for w in q.values()])
        sr = math.sqrt(r2)
        low = thr - 1e-9
        lne = low - ne - 1e-12
        stories, scale_of, tailed = self._stories, self._scale, self._tailed
        out: list[_Story] = []
        # a posting is at least the exact c[t] / nf (k <= 1 below) and a tail carries at most _TAIL_MAX x
        # threshold; a story without a tail (tn = 0) needs a >= lne
        cut = lne - sr * _TAIL_MAX * bar
        for sid, a in [(sid, a) for sid, a in acc.items() if a >= lne or (a >= cut and sid in tailed)]:
            k, tn = scale_of[sid]  # k: the posting's c[t] / ref to c[t] / nf; tn: the tail's bound
            a *= k
            if a + sr * tn < lne:
                continue
            need = low - sr * tn
            rest = left
            for post, w, top, b in skipped:  # the non-essential head terms (or their low postings) it has
                rest -= b
                pv = post.get(sid)
                if pv is not None and pv < top:
                    a += w * pv * k
                elif a + rest < need:  # even the rest's bounds cannot lift it to the threshold
                    break
            else:
                # the item's other shareable terms can meet only the story's tail: first bounded with all
                # the item's weight (cheap), then with the weight off the story's head
                if a + sr * tn < low:
                    continue
                st = stories[sid]  # read only now: most stories stop above, without touching theirs
                if abs(ts - st.latest) > window or ts - st.first > window:
                    continue
                head = st.head
                rest2 = r2 - math.fsum(head.squares(q) if type(head) is _CutHead else
                                       [w * w for t, w in q.items() if t in head])
                bound = a + math.sqrt(rest2) * tn if rest2 > 0.0 else a
                if bound >= low:
                    out.append(st)
        return out

    @staticmethod
    def _accumulate(scan: list[tuple[dict[int, float], float]]) -> dict[int, float]:
        """story id -> sum of w x posting over the (postings, w) in scan that hold it."""
        post, w = scan[0]
        acc = {sid: w * r for sid, r in post.items()}
        get = acc.get
        for post, w in itertools.islice(scan, 1, None):
            for sid, r in post.items():
                acc[sid] = get(sid, 0.0) + w * r  # 0.0 + x is x: the same floats as a branch on `in`
        return acc

    def _lexical_candidates(self, q: Mapping[str, float], qspec: list[tuple[str, float]], ts: float,
                            scored: dict[int, float]) -> None:
        """Exact lexical scores (into ``scored``) of `_candidates`: the stories in the window whose lexical
        score may reach the threshold. ``q``: the item's terms that some live story has."""
        for st in self._candidates(q, ts):
            scored[st.story_id] = self._lexical_score(q, qspec, st)

    def _lexical_score(self, q: Mapping[str, float], qspec: list[tuple[str, float]], st: _Story) -> float:
        """The exact lexical score of an item (terms q, specific terms qspec) against a story, as _best's."""
        c = st.centroid
        shared = q.keys() & c.keys()
        if not shared:
            return 0.0
        score = math.fsum([q[t] * c[t] for t in shared]) / self._nf[st.story_id]
        if qspec and st.spec2 > 0.0:
            score *= 1.0 - self.config.conflict_penalty * _conflict(qspec, c, st.spec2, st.norm2)
        return score

    def _best_semantic(self, vec: Mapping[str, float], ts: float, e: Any, avoid: Collection[int] = (),
                       spec_keys: Collection[str] | None = None) -> tuple[_Story | None, float]:
        """Semantic mode's _best: the story with the highest blended score (ties: lower story id).

        Exact: a story the lexical candidates miss scores below the threshold lexically, so it can reach
        the threshold blended only if its semantic score does; those come from one dense product over
        every live story's embedding sum. Every story in either set is scored exactly."""
        sem = self._sem
        assert sem is not None
        cfg = self.config
        w = cfg.semantic_weight
        low = cfg.threshold - 1e-9
        sims = sem.scores(e)
        df = self._df
        q = {t: x for t, x in vec.items() if t in df}
        qspec = _spec(vec, spec_keys) if cfg.conflict_penalty else []
        lex: dict[int, float] = {}
        if q:
            self._lexical_candidates(q, qspec, ts, lex)
        stories, window, row_of = self._stories, self._window_s, sem.row_of
        best: _Story | None = None
        best_score = 0.0
        for sid in itertools.chain(lex, (s for s in sem.stories_at_least(sims, low) if s not in lex)):
            st = stories[sid]
            if abs(ts - st.latest) > window or ts - st.first > window or sid in avoid:
                continue
            lx = lex.get(sid)
            if lx is None:
                lx = self._lexical_score(q, qspec, st)
            score = w * lx + (1.0 - w) * float(sims[row_of[sid]])
            if score > best_score or (score == best_score and best is not None and sid < best.story_id):
                best, best_score = st, score
        return best, best_score

    def blended_scores(self, title: str, summary: str, published: datetime) -> dict[int, tuple[float, float, float]]:
        """Semantic mode, for inspection and tests: (lexical, semantic, blended) score of an item against
        every live story in the window, by brute force (no candidate generation). Changes nothing."""
        sem = self._sem
        if sem is None:
            raise ValueError("the index has no embedder")
        e = sem.embed_one(title)
        vec = self.vector(title, summary)
        ts = published.timestamp()
        sims = sem.scores(e)
        q = {t: x for t, x in vec.items() if t in self._df}
        qspec = _spec(vec, self.title_keys(title, summary)) if self.config.conflict_penalty else []
        w = self.config.semantic_weight
        out: dict[int, tuple[float, float, float]] = {}
        for sid, st in self._stories.items():
            if abs(ts - st.latest) > self._window_s or ts - st.first > self._window_s:
                continue
            lx = self._lexical_score(q, qspec, st)
            sm = float(sims[sem.row_of[sid]])
            out[sid] = (lx, sm, w * lx + (1.0 - w) * sm)
        return out

    def _term_bounds(self, q: Mapping[str, float]) -> list[tuple[float, str, float]]:
        """(bound on the term's addition to any story's score, term, weight) for the item's head terms. A
        term's `_ub` only rises as stories change; it is recomputed from its postings once it has been
        raised or a posting dropped more than twice as often as it has postings (plus 16): linear work paid
        for by that many changes."""
        postings, ub, stale, scale = self._weights, self._ub, self._ub_stale, self._scale
        out: list[tuple[float, str, float]] = []
        for t, w in q.items():
            post = postings.get(t)
            if not post:
                continue
            if stale[t] > 2 * len(post) + 16:
                ub[t] = max(v * scale[sid][0] for sid, v in post.items())
                stale[t] = 0
            out.append((w * ub[t], t, w))
        return out

    def _closest_member(self, st: _Story, vec: Mapping[str, float]) -> int:
        """The member among the story's latest (`_latest`: by published time, then id, as a restarted index
        has them too) whose own vector is most similar to vec (ties: the most recent)."""
        best_id = -1
        best = -1.0
        items = self._items
        get = vec.get
        zero = itertools.repeat(0.0)
        mul = operator.mul
        for mid in self._latest(st):
            it = items[mid]
            terms: Iterable[str] = st.centroid.keys() if it.terms is None else it.terms
            weights: Iterable[float] = st.centroid.values() if it.weights is None else it.weights
            # the exact sum of the products over the shared terms (the others add exact zeros)
            s = math.fsum(map(mul, map(get, terms, zero), weights))
            if s > best:
                best, best_id = s, mid
        return best_id

    def _start(self, item_id: int, story_id: int, ts: float, vec: dict[str, float], n_head: int = -1,
               src: Hashable | None = None) -> None:
        """Start a story with its first item: the state `_Story.add` and `_refresh` would leave (the same
        floats, summed in the same order; the head the same terms, kept as a `_CutHead`), without the
        work a story never posted before does not need: its centroid is a copy of the vector, its head
        is chosen once and posted directly."""
        st = _Story(story_id)
        self._stories[story_id] = st
        self._items[item_id] = _Item(story_id, ts, None, n_head, src)  # the centroid is its vector
        c = st.centroid = dict(vec)
        df = self._df
        n2 = s2 = 0.0
        for t, w in vec.items():  # the sums in _Story.add's order, so the floats are the same
            d = w * w
            n2 += d
            if t in _SPECIFIC or t[0].isdigit():
                s2 += d
            df[t] = df.get(t, 0) + 1
        st.norm2, st.spec2, st.tail2 = n2, s2, n2
        st.members[item_id] = None
        st.latest = st.first = ts
        heapq.heappush(self._heap, (ts, self._seq, item_id))
        self._seq += 1
        # _refresh of a story that has never been posted
        cfg = self.config
        st.norm = norm = math.sqrt(n2)
        st.factor = cfg.cohesion_factor(norm, 1)
        nf = norm * st.factor
        lim = cfg.threshold * nf
        if n2 < (_HEAD_REBUILD * lim) ** 2:  # the head would not be rebuilt (never, with a threshold <= 1)
            self._refresh(st, vec)
            return
        head, tail2 = _split_head(c, (_HEAD_TARGET * lim) ** 2, cut=True)  # as _rebuild_head, kept as its cut
        st.head, st.tail2 = head, tail2
        self._nf[story_id] = nf
        if nf <= 0.0:  # no terms: nothing is posted
            self._ref[story_id] = 1.0
            self._set_scale(story_id, 1.0, 0.0)
            return
        self._ref[story_id] = nf
        self._set_scale(story_id, 1.0, math.sqrt(tail2) / nf)
        # _post inlined (a new story has no postings to move or drop): calling it cost window loads ~8 %
        weights, high, ub, stale = self._weights, self._high, self._ub, self._ub_stale
        for t in head:
            r = c[t] if nf == 1.0 else c[t] / nf  # see _refresh
            post = weights.get(t)
            if post is None:
                weights[t] = {story_id: r}
            else:
                post[story_id] = r
            if r >= _HIGH:
                h = high.get(t)
                if h is None:
                    high[t] = {story_id: r}
                else:
                    h[story_id] = r
            if r > ub.get(t, 0.0):
                ub[t] = r
                stale[t] = stale.get(t, 0) + 1

    def _insert(self, item_id: int, story_id: int, ts: float, vec: dict[str, float], head: int = -1,
                src: Hashable | None = None) -> list[str]:
        """Put an item (``head``: how many of its vector's first terms are its headline's, its length or -1 for
        all; ``src``: its source) in a story, starting it if it is new; return the terms new to the story."""
        if item_id in self._items:
            raise ValueError(f"item {item_id} is already in the index")
        st = self._stories.get(story_id)
        if st is None:
            self._start(item_id, story_id, ts, vec, head, src)
            return list(vec)
        if type(st.head) is not set:  # a cut (or no head), valid only while the centroid stays as it is
            st.head = set(st.head)
        if len(st.members) == 1:  # the first member's vector, so far the centroid, gets its own copy
            first = self._items[next(iter(st.members))]
            if first.terms is None:
                first.terms, first.weights = tuple(st.centroid), array("d", st.centroid.values())
            # _Story.add makes the counts unless the first member had no terms (a story only the
            # semantic mode lets grow): without them the story could not lose a member
            if st.counts is None:
                st.counts = dict.fromkeys(st.centroid, 1)
        items = self._items
        items[item_id] = _Item(story_id, ts, vec, head, src)
        new = st.add(vec.items())
        df = self._df
        for t in new:
            df[t] = df.get(t, 0) + 1
        recent = st.recent
        if recent is None:
            recent = st.recent = list(st.members)  # its one member so far
        bisect.insort(recent, item_id, key=lambda m: (items[m].ts, m))
        if len(recent) > HEADLINE_MEMBERS:  # (`_latest`)
            del recent[0]
        st.members[item_id] = None
        self._refresh(st, vec)
        if ts > st.latest:
            st.latest = ts
        if ts < st.first:
            st.first = ts
        heapq.heappush(self._heap, (ts, self._seq, item_id))
        self._seq += 1
        return new

    def add(self, item_id: int, title: str, summary: str, published: datetime,
            profile: SourceProfile | None = None, exclude: Collection[int] = (),
            source: Hashable | None = None) -> StoryMatch:
        """Assign an item to the best matching live story, or start a new story with it. ``profile``: the
        template of the feed document the item came in (`source_profile`), weighed down in its vector.
        ``exclude``: item ids whose stories the item must not join (its siblings in that document,
        `SourceProfile.sibling_items`); ids not in the index are ignored. ``source``: the item's feed (any
        hashable id): a story whose latest reports (its headline side) hold a report of it takes the item only
        through its full text, not through its headline alone (a feed's own posts on one subject share their
        headlines' words)."""
        avoid = self._stories_of(exclude)
        if self._sem is not None:
            return self._add_semantic(item_id, title, summary, published, profile, avoid, source)
        vec, n_title = self._vector(title, summary, profile)
        ts = published.timestamp()
        hv = _headline(vec, n_title) if self._by_headline and n_title < len(vec) else None
        thr = self.config.threshold
        st, score, full = self._best(vec, ts, avoid, self.title_keys(title, summary, profile), hv, source)
        if st is not None and score >= thr:
            sid = st.story_id
            matched = self._closest_member(st, vec)
            new = self._insert(item_id, sid, ts, vec, n_title, source)
            if full < thr and hv is not None:
                # joined through its headline alone: what it brings is read there (its summary is another
                # outlet's background in its own words, what kept it apart); a report its full text joins is
                # read whole, its summary's news too
                novelty = sum(hv[t] ** 2 for t in new if t in hv)
            else:
                novelty = sum(vec[t] ** 2 for t in new)
            return StoryMatch(sid, True, score, matched, min(1.0, novelty))
        self._insert(item_id, item_id, ts, vec, n_title, source)
        return StoryMatch(item_id, False, score, None, 1.0)

    def _stories_of(self, item_ids: Collection[int]) -> set[int]:
        """The stories of those of ``item_ids`` that are in the index."""
        items = self._items
        return {items[i].story_id for i in item_ids if i in items} if item_ids else set()

    def _add_semantic(self, item_id: int, title: str, summary: str, published: datetime,
                      profile: SourceProfile | None, avoid: set[int], source: Hashable | None = None) -> StoryMatch:
        sem = self._sem
        assert sem is not None
        e = sem.embed_one(title)
        vec, n_title = self._vector(title, summary, profile)
        ts = published.timestamp()
        st, score = self._best_semantic(vec, ts, e, avoid, self.title_keys(title, summary, profile))
        if st is not None and score >= self.config.threshold:
            sid = st.story_id
            matched = self._closest_member(st, vec)
            new = self._insert(item_id, sid, ts, vec, n_title, source)
            sem.insert(item_id, sid, e, len(st.members))
            novelty = sum(vec[t] ** 2 for t in new)
            return StoryMatch(sid, True, score, matched, min(1.0, novelty))
        self._insert(item_id, item_id, ts, vec, n_title, source)
        sem.insert(item_id, item_id, e, 1)
        return StoryMatch(item_id, False, score, None, 1.0)

    def add_known(self, item_id: int, title: str, summary: str, published: datetime, story_id: int,
                  vector: dict[str, float] | None = None, headline: int | None = None,
                  source: Hashable | None = None) -> None:
        """Put back an item whose story is already decided (start-up from the store). ``vector``: the
        item's vector as it entered an index before (`item_vector`, stored under `vector_key`), and
        ``headline`` how many of its first terms are its headline's (`headline_terms`; without it, those
        of its first terms that its title has); without a vector it is computed from the text under the
        current weights. ``source``: its feed (see `add`)."""
        if vector is None:
            vec, n_title = self._vector(title, summary)  # not kept: _insert copies it
        else:
            vec = vector
            n_title = headline if headline is not None else self._headline_count(vec, title)
        self._insert(item_id, story_id, published.timestamp(), vec, n_title, source)
        if self._sem is not None:
            self._sem.insert(item_id, story_id, self._sem.embed_one(title), len(self._stories[story_id].members))

    def item_vector(self, item_id: int) -> dict[str, float]:
        """The unit vector a live item entered the index with (what add_known takes back)."""
        it = self._items[item_id]
        return dict(it.pairs(self._stories[it.story_id]))

    def _against_one(self, vec: Mapping[str, float], headline: Mapping[str, float] | None,
                     keys: Collection[str] | None, other: Mapping[str, float], other_head: int,
                     src: Hashable | None = None, other_src: Hashable | None = None
                     ) -> tuple[float, float, tuple[str, ...]]:
        """(score, score with the summary, the one name that kept the headline score out or ()) of a report
        (``vec``, its ``headline`` vector if it has a summary, its conflict ``keys``) coming to a story of one
        other report, as `_best` scores it (its headline side the other's first ``other_head`` terms)."""
        pair = StoryIndex(self.config)
        pair._insert(0, 0, 0.0, dict(other), other_head, other_src)
        _st, score, full = pair._best(vec, 0.0, (), keys, headline, src)
        return score, full, pair._named

    def novelty_over(self, item_id: int, other_id: int) -> float | None:
        """What a live item brings that another live item did not, as `add` reads a report coming to a story
        of that one report (lexically; with its source, its title's conflict keys and its headline): 1.0 if it
        would not join it, else the share of its vector's squared weight on terms the other's vector lacks, or
        of its headline vector's when only its headline would join it; None if either is not in the index."""
        items = self._items
        if item_id not in items or other_id not in items:
            return None
        it, ot = items[item_id], items[other_id]
        vec, other = self.item_vector(item_id), self.item_vector(other_id)
        if self.semantic:  # (`_add_semantic` reads the whole vector)
            return min(1.0, math.fsum([w * w for t, w in vec.items() if t not in other]))
        n = it.head if it.head >= 0 else len(vec)
        title = list(vec)[:n]  # the headline's terms come first: what `title_keys` gives for the text
        keys = frozenset(title) if any(_specific(t) for t in title) else None
        hv = _headline(vec, n) if n < len(vec) else None
        score, full, _ = self._against_one(vec, hv, keys, other, ot.head, it.src, ot.src)
        if score < self.config.threshold:
            return 1.0
        if full < self.config.threshold and hv is not None:
            vec = hv
        return min(1.0, math.fsum([w * w for t, w in vec.items() if t not in other]))

    def headline_terms(self, item_id: int) -> int | None:
        """How many of a live item's vector's first terms are its headline's (what add_known takes back with
        its vector; all of them for an item without summary terms); None if it was put in without a count."""
        n = self._items[item_id].head
        return None if n < 0 else n

    def stored_vector(self, item_id: int) -> bytes:
        """A live item's vector and headline term count, encoded (`encode_vector`) for the store."""
        return encode_vector(self.item_vector(item_id), self.headline_terms(item_id))

    def _headline_count(self, vec: Mapping[str, float], title: str) -> int:
        """How many of a vector's first terms are its title's (a vector given back without its count): those
        that are terms of the title, or, when one is not (a vector made under earlier tables, where a synonym
        or a spelling was another term: "centr" for "centre"), as many as the title has terms, at most all."""
        keys = [k for k, _ in self._title_terms(title)]
        n = sum(1 for _ in itertools.takewhile(set(keys).__contains__, vec))
        return n if n >= len(keys) else min(len(keys), len(vec))

    def vector_key(self, title: str, summary: str) -> bytes:
        """What a stored vector is valid for: this text under the settings vector() depends on (and
        VECTOR_KEY). A stored vector whose key differs (an edited item, changed settings) is not used."""
        cfg = self.config
        h = hashlib.blake2b(digest_size=16, person=b"feeds-vec-%d" % VECTOR_KEY)
        h.update(f"{cfg.summary_weight!r} {cfg.summary_terms} {cfg.entity_boost!r} {cfg.prior_docs!r}\0".encode())
        h.update(title.encode("utf-8", "surrogatepass") + b"\0" + summary.encode("utf-8", "surrogatepass"))
        return h.digest()

    def add_known_many(self, items: Iterable[tuple[int, str, str, datetime, int, dict[str, float] | None, int | None,
                                                   Hashable | None]],
                       batch_size: int = 256) -> None:
        """add_known for each (item_id, title, summary, published, story_id, vector or None, headline term
        count or None, source or None); in semantic
        mode the titles are embedded in batches of ``batch_size``."""
        if self._sem is None:
            for it in items:
                self.add_known(*it)
            return
        sem = self._sem
        rows = iter(items)
        while chunk := list(itertools.islice(rows, batch_size)):
            sem.precompute([c[1] for c in chunk])
            for c in chunk:
                self.add_known(*c)
        sem.pending = {}

    def story_began(self, story_id: int, published: datetime) -> None:
        """Tell the index when a live story's earliest report was published, when that report is no longer
        in it (start-up from the store: only the window's items come back). A story takes no report
        published more than the window after its earliest, so a daily headline ("Stocks close higher")
        does not chain into one story for ever; an index fed without a restart knows this by itself."""
        st = self._stories.get(story_id)
        ts = published.timestamp()
        if st is not None and ts < st.first:
            st.first = ts

    def evict(self, now: datetime) -> None:
        """Drop items published before ``now - window``."""
        cutoff = now.timestamp() - self._window_s
        heap = self._heap
        sem = self._sem
        while heap and heap[0][0] < cutoff:
            _, _, item_id = heapq.heappop(heap)
            it = self._items.pop(item_id)
            st = self._stories[it.story_id]
            del st.members[item_id]
            recent = st.recent
            if recent is not None and item_id in recent:
                recent.remove(item_id)
                if len(st.members) > len(recent):  # (reports of one time: one of the latest went first)
                    items = self._items
                    st.recent = heapq.nlargest(HEADLINE_MEMBERS, st.members, key=lambda m: (items[m].ts, m))[::-1]
            if sem is not None:
                sem.remove(item_id, st.story_id, st.members)
            if not st.members:
                for t in st.head:
                    self._drop_posting(t, st.story_id)
                for t in st.centroid:
                    self._drop_df(t)
                del self._stories[st.story_id]
                del self._nf[st.story_id]
                del self._ref[st.story_id]
                del self._scale[st.story_id]
                self._tailed.discard(st.story_id)
                continue
            head = st.head
            pairs = list(it.pairs(st))  # a member of a story with others left: its own copy
            was_head = [t for t, _ in pairs if t in head]
            for t in st.remove(pairs):
                self._drop_df(t)
                if t in was_head:
                    self._drop_posting(t, st.story_id)
            self._refresh(st, [t for t, _ in pairs])
            # st.latest stays: items leave in time order, so the members left are at least as recent as this
            # one (recomputing it when the two were equal was quadratic in a story whose reports share one
            # time, undated items all taking the time they were read: 16,000 such reports took 28 s to evict;
            # found by a review of algorithmic costs)

    def _drop_df(self, t: str) -> None:
        left = self._df[t] - 1
        if left:
            self._df[t] = left
        else:
            del self._df[t]

    def _post(self, t: str, sid: int, p: float) -> None:
        """Set story sid's posting for head term t to p (in the high postings too when p >= _HIGH)."""
        self._weights[t][sid] = p
        h = self._high.get(t)
        if p >= _HIGH:
            if h is None:
                self._high[t] = {sid: p}
            else:
                h[sid] = p
        elif h is not None and sid in h:
            del h[sid]
            if not h:
                del self._high[t]

    def _drop_posting(self, t: str, sid: int) -> None:
        post = self._weights[t]
        del post[sid]
        h = self._high.get(t)
        if h is not None and sid in h:
            del h[sid]
            if not h:
                del self._high[t]
        if not post:
            del self._weights[t]
            del self._ub[t]
            del self._ub_stale[t]
        else:
            self._ub_stale[t] += 1


# ---------------------------------------------------------------------------------------------------
# Explanation and update rule
# ---------------------------------------------------------------------------------------------------


def explain(
    a_title: str,
    a_summary: str,
    b_title: str,
    b_summary: str,
    config: StoryConfig | None = None,
    index: StoryIndex | None = None,
    a_vector: Mapping[str, float] | None = None,
    b_vector: Mapping[str, float] | None = None,
    a_headline: int | None = None,
    b_headline: int | None = None,
    same_feed: bool = False,
    later: str | None = None,
) -> Explanation:
    """Why two items would (not) be one story: their cosine under the index's current weights.

    Without an index only the background prior weights terms (as for the first item of a window). With
    an index in semantic mode, the titles' embedding cosine is blended in as the index would for a
    one-item story: score = w x lexical + (1 - w) x semantic cosine. ``a_vector``/``b_vector``: an item's
    vector as it entered the index (`StoryIndex.item_vector`, its feed's template weighed in) instead of
    one computed from its text now, and ``a_headline``/``b_headline`` how many of its first terms are its
    headline's (`StoryIndex.headline_terms`; None: those its title has). A report with a summary is also
    scored on its headline alone, as the index scores it (`StoryIndex._best`): the higher score counts
    (not for two reports of one feed, ``same_feed``: a feed's own reports join through their full text);
    then the shared and distinguishing terms, the cosine and the conflict are the headlines'.
    ``later``: "a" or "b", the report the run read later (two stored reports), which is scored against the
    other as a run scores a new report against a story; None (headlines, which have no time): a for the
    score with the summaries, and the headline score either way round (the higher).
    """
    cfg = config if config is not None else (index.config if index is not None else StoryConfig())
    ix = index if index is not None else StoryIndex(cfg)
    if a_vector is not None:
        va, na = dict(a_vector), a_headline if a_headline is not None else ix._headline_count(a_vector, a_title)
    else:
        va, na = ix._vector(a_title, a_summary)
    if b_vector is not None:
        vb, nb = dict(b_vector), b_headline if b_headline is not None else ix._headline_count(b_vector, b_title)
    else:
        vb, nb = ix._vector(b_title, b_summary)
    sides = {"a": (a_title, a_summary, va, na), "b": (b_title, b_summary, vb, nb)}
    q_name = later if later in sides else "a"  # the report scored as the new one
    s_name = "b" if q_name == "a" else "a"
    q_title, q_summary, vq, _ = sides[q_name]
    vs = sides[s_name][2]
    # as when the other report is a one-item story and this one the new item
    shared, cosine, conflict = _pair_terms(vq, vs, _spec(vq, ix.title_keys(q_title, q_summary)))
    score = cosine * (1.0 - cfg.conflict_penalty * conflict)
    semantic: float | None = None
    lexical: float | None = None
    if ix.semantic:
        e = ix.embed([a_title, b_title])
        semantic = float(e[0] @ e[1])
        lexical = score
        w = cfg.semantic_weight
        score = w * lexical + (1.0 - w) * semantic
        same = score >= cfg.threshold
    else:
        same = score >= cfg.threshold and bool(shared)
    one_word: tuple[str, float] | None = None  # the one word the two share, when that kept their score out
    if not ix.semantic and shared and _shares_one_word(vq, vs):
        one_word, score, same = (shared[0][0], cosine * (1.0 - cfg.conflict_penalty * conflict)), 0.0, False
    headline: float | None = None
    full = score
    heads: tuple[str, str] | None = None  # (new report, story) of the headline score that counts
    name: tuple[str, ...] = ()  # the one name two headlines share, when that kept their headline score out
    if not same_feed and cfg.headline_route and not ix.semantic:
        ways = [(q_name, s_name)] if later in sides else [("a", "b"), ("b", "a")]
        for new, old in ways:
            qt, qs, qv, qn = sides[new]
            sv, sn = sides[old][2], sides[old][3]
            if qn >= len(qv):
                continue
            best, with_summary, named = ix._against_one(qv, _headline(qv, qn), ix.title_keys(qt, qs), sv, sn)
            name = name or named
            if best > with_summary and best > score:
                headline = score = best
                same = score >= cfg.threshold
                heads = (new, old)
    if heads is not None:  # the terms, cosine and conflict of the two headlines (`StoryIndex._headline_score`)
        hv = {k: _headline(sides[k][2], sides[k][3]) for k in heads}
        q_name, s_name = heads
        shared, cosine, conflict = _pair_terms(hv[q_name], hv[s_name], _spec(hv[q_name]))
        vq, vs = hv[q_name], hv[s_name]
    only_q = sorted(((t, w) for t, w in vq.items() if t not in vs), key=lambda kv: (-kv[1], kv[0]))
    only_s = sorted(((t, w) for t, w in vs.items() if t not in vq), key=lambda kv: (-kv[1], kv[0]))
    only_a, only_b = (only_q, only_s) if q_name == "a" else (only_s, only_q)
    verdict = "same story" if same else "different stories"
    part = "the headlines' " if heads is not None else ""
    lines = [
        f"score {score:.3f} {'>=' if same else '<'} threshold {cfg.threshold:.2f}: {verdict}",
        f"shared{' (headlines)' if heads else ''}: " + (", ".join(f"{t} {c:.3f}" for t, c in shared) or "(none)"),
        f"only in a{chr(39) + 's headline' if heads else ''}: "
        + (", ".join(f"{t} {w:.2f}" for t, w in only_a) or "(none)"),
        f"only in b{chr(39) + 's headline' if heads else ''}: "
        + (", ".join(f"{t} {w:.2f}" for t, w in only_b) or "(none)"),
    ]
    if conflict > 0.0:
        lines.insert(1, f"{part}cosine {cosine:.3f}, place/date/number conflict {conflict:.3f} "
                        f"(lexical = cosine x (1 - {cfg.conflict_penalty:g} x conflict))"
                     if semantic is not None else
                     f"{part}cosine {cosine:.3f}, place/date/number conflict {conflict:.3f} "
                     f"(score = cosine x (1 - {cfg.conflict_penalty:g} x conflict))")
    if semantic is not None and lexical is not None:
        w = cfg.semantic_weight
        lines.insert(1, f"lexical {lexical:.3f}, semantic cosine {semantic:.3f} "
                        f"(score = {w:g} x lexical + {1 - w:g} x semantic)")
    if heads is not None:
        lines.insert(1, f"the score is the headlines' alone ({heads[0]}'s against {heads[1]}'s), higher than "
                        f"{full:.3f} with the summaries (a report with a summary is scored on its headline too; "
                        "the higher counts)")
    if one_word is not None and heads is None:
        lines.append(f"(the two share one word only, {one_word[0]}: a subject rather than an event, so their "
                     f"score {one_word[1]:.3f} does not count)")
    if name and heads is None:
        lines.append(f"(the headlines share only two words that stand together, {' '.join(name)}: one name or "
                     "phrase, a subject rather than an event, so the headlines alone do not count)")
    if later in sides:
        lines.append(f"({later}, the report the run read later, is scored against the other as a run scores a "
                     "new report)")
    return Explanation(score, same, tuple(shared), tuple(only_a), tuple(only_b), tuple(lines), cosine, conflict,
                       semantic, lexical, headline, name if heads is None else ())


def _pair_terms(vq: Mapping[str, float], vs: Mapping[str, float], qspec: list[tuple[str, float]]
                ) -> tuple[list[tuple[str, float]], float, float]:
    """(shared terms with their contributions, largest first; cosine; place/date/number conflict) of a new
    item's unit vector ``vq`` (``qspec``: its places, dates and numbers that count) against a one-item
    story's unit vector ``vs``."""
    shared = sorted(((t, vq[t] * vs[t]) for t in vq if t in vs), key=lambda kv: (-kv[1], kv[0]))
    spec_s = math.fsum(w * w for _, w in _spec(vs))
    conflict = _conflict(qspec, vs, spec_s, 1.0) if qspec and spec_s > 0.0 else 0.0
    return shared, math.fsum(c for _, c in shared), conflict


def is_significant_update(match: StoryMatch, config: StoryConfig | None = None) -> bool:
    """Whether an item should move its story's ``updated`` time.

    A new story always does. A report joining a story does when it brings substantial new terms: at
    least ``config.update_novelty`` of its squared term weight lies on terms the story did not have
    before (a new casualty figure, a new name, a verdict). A mere repeat or rewording does not, so a
    story does not bounce to the top of a feed every time another outlet re-reports it.
    """
    cfg = config if config is not None else StoryConfig()
    return not match.joined or match.novelty >= cfg.update_novelty
