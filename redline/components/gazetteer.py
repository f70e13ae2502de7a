"""Hand-written gazetteers for actor merging: countries (names, aliases, adjectives and
demonyms, capitals and seats of power), a few well-known organisations and their aliases,
heads of state or government whose rule articles call a "regime", and the words that
tell an actor from a non-actor (titles and name suffixes, topics, photo-credit agencies).

Only what merging needs: "Tehran", "Iranian", "Iranians" -> Iran; "Kremlin" -> Russia;
"Downing Street", "Number 10" -> United Kingdom; "Brussels" -> European Union (in
political news Brussels stands for the EU, not Belgium); "Assad" -> leader of Syria (so
"the Syrian regime" can join "the Assad regime").
"""

from __future__ import annotations

# country | aliases | adjectives and demonyms | capitals (and seats of power) | leaders (surnames)
_COUNTRIES = """
Afghanistan||Afghan;Afghans;Afghani|Kabul|Karzai;Ghani
Albania||Albanian;Albanians|Tirana|
Algeria||Algerian;Algerians|Algiers|Bouteflika;Tebboune
Argentina||Argentine;Argentinian;Argentines;Argentinians|Buenos Aires|Milei;Kirchner
Armenia||Armenian;Armenians|Yerevan|Pashinyan
Australia||Australian;Australians|Canberra|Albanese
Austria||Austrian;Austrians|Vienna|
Azerbaijan||Azerbaijani;Azeri;Azerbaijanis;Azeris|Baku|Aliyev
Bahrain||Bahraini;Bahrainis|Manama|
Bangladesh||Bangladeshi;Bangladeshis|Dhaka|Hasina
Belarus||Belarusian;Belarusians;Belarussian|Minsk|Lukashenko
Belgium||Belgian;Belgians||
Brazil||Brazilian;Brazilians|Brasilia;Brasília|Lula;Bolsonaro
Bulgaria||Bulgarian;Bulgarians|Sofia|
Canada||Canadian;Canadians|Ottawa|Trudeau;Carney
Chile||Chilean;Chileans|Santiago|
China|PRC;People's Republic of China|Chinese|Beijing;Peking;Zhongnanhai|Xi;Jinping
Colombia||Colombian;Colombians|Bogota;Bogotá|Petro
Cuba||Cuban;Cubans|Havana|Castro
Cyprus||Cypriot;Cypriots|Nicosia|
Czech Republic|Czechia|Czech;Czechs|Prague|
Denmark||Danish;Dane;Danes|Copenhagen|
Egypt||Egyptian;Egyptians|Cairo|Sisi;Mubarak;Morsi
Eritrea||Eritrean;Eritreans|Asmara|Afwerki
Estonia||Estonian;Estonians|Tallinn|
Ethiopia||Ethiopian;Ethiopians|Addis Ababa|Abiy
Finland||Finnish;Finn;Finns|Helsinki|
France||French;Frenchman;Frenchmen|Paris;Elysee;Élysée;Elysee Palace;Élysée Palace|Macron
Georgia||Georgian;Georgians|Tbilisi|
Germany||German;Germans|Berlin|Merkel;Scholz;Merz
Greece||Greek;Greeks|Athens|
Hungary||Hungarian;Hungarians|Budapest|Orban;Orbán
India||Indian;Indians|New Delhi;Delhi|Modi
Indonesia||Indonesian;Indonesians|Jakarta|
Iran|Islamic Republic;Islamic Republic of Iran;Persia|Iranian;Iranians;Persian;Persians|Tehran;Teheran|Khamenei;Rouhani;Raisi;Ahmadinejad;Pezeshkian;Khomeini
Iraq||Iraqi;Iraqis|Baghdad|Saddam;Maliki;Sudani
Ireland||Irish|Dublin|
Israel||Israeli;Israelis|Jerusalem;Tel Aviv|Netanyahu
Italy||Italian;Italians|Rome|Meloni
Japan||Japanese|Tokyo|
Jordan||Jordanian;Jordanians|Amman|
Kazakhstan||Kazakh;Kazakhs;Kazakhstani|Astana|Tokayev;Nazarbayev
Kenya||Kenyan;Kenyans|Nairobi|Ruto
Kuwait||Kuwaiti;Kuwaitis|Kuwait City|
Latvia||Latvian;Latvians|Riga|
Lebanon||Lebanese|Beirut|
Libya||Libyan;Libyans|Tripoli|Gaddafi;Qaddafi;Haftar
Lithuania||Lithuanian;Lithuanians|Vilnius|
Mali||Malian;Malians|Bamako|
Mexico||Mexican;Mexicans|Mexico City|
Moldova||Moldovan;Moldovans|Chisinau;Chișinău|
Morocco||Moroccan;Moroccans|Rabat|
Myanmar|Burma|Burmese|Naypyidaw;Yangon|
Netherlands|Holland|Dutch|Amsterdam;The Hague|
New Zealand||New Zealander;New Zealanders|Wellington|
Nicaragua||Nicaraguan;Nicaraguans|Managua|Ortega
Nigeria||Nigerian;Nigerians|Abuja|
North Korea|DPRK|North Korean;North Koreans|Pyongyang|Kim
Norway||Norwegian;Norwegians|Oslo|
Oman||Omani;Omanis|Muscat|
Pakistan||Pakistani;Pakistanis|Islamabad|Sharif;Khan
Palestine|Palestinian Territories|Palestinian;Palestinians|Ramallah|Abbas
Philippines||Filipino;Filipinos;Philippine|Manila|Duterte;Marcos
Poland||Polish;Pole;Poles|Warsaw|Duda;Tusk
Portugal||Portuguese|Lisbon|
Qatar||Qatari;Qataris|Doha|
Romania||Romanian;Romanians|Bucharest|
Russia|Russian Federation;Soviet Union;USSR|Russian;Russians;Soviet;Soviets|Moscow;Kremlin|Putin;Medvedev
Saudi Arabia|Saudi;Kingdom of Saudi Arabia|Saudis|Riyadh|Salman
Serbia||Serbian;Serb;Serbs;Serbians|Belgrade|Vucic;Vučić
Slovakia||Slovak;Slovaks|Bratislava|Fico
Somalia||Somali;Somalis|Mogadishu|
South Africa||South African;South Africans|Pretoria|Ramaphosa
South Korea|Korea;Republic of Korea|South Korean;South Koreans;Korean;Koreans|Seoul|
Spain||Spanish;Spaniard;Spaniards|Madrid|
Sudan||Sudanese|Khartoum|Bashir
Sweden||Swedish;Swede;Swedes|Stockholm|
Switzerland||Swiss|Bern;Berne|
Syria||Syrian;Syrians|Damascus|Assad
Taiwan||Taiwanese|Taipei|
Tunisia||Tunisian;Tunisians|Tunis|
Turkey|Türkiye;Turkiye|Turkish;Turk;Turks|Ankara|Erdogan;Erdoğan
Ukraine|the Ukraine|Ukrainian;Ukrainians|Kyiv;Kiev|Zelensky;Zelenskyy;Zelenskiy
United Arab Emirates|UAE;Emirates|Emirati;Emiratis|Abu Dhabi|
United Kingdom|UK;U.K.;Britain;Great Britain;England|British;Briton;Britons;English|London;Downing Street;Whitehall;Number 10;No 10;No. 10|Johnson;Sunak;Starmer;Truss;May
United States|US;U.S.;USA;U.S.A.;America;United States of America|American;Americans|Washington;White House|Biden;Trump;Obama;Bush
Uzbekistan||Uzbek;Uzbeks|Tashkent|
Venezuela||Venezuelan;Venezuelans|Caracas|Maduro;Chavez;Chávez
Vietnam||Vietnamese|Hanoi|
Yemen||Yemeni;Yemenis|Sanaa;Sana'a|Saleh;Hadi
Zimbabwe||Zimbabwean;Zimbabweans|Harare|Mugabe;Mnangagwa
"""

# Surnames too ambiguous to map a person to a country on their own.
_AMBIGUOUS_LEADERS = {"may", "khan", "kim", "salman", "sharif", "abbas", "johnson", "bush", "hadi", "xi"}

COUNTRY_BY_NAME: dict[str, str] = {}  # lowercased name, alias or capital -> country
COUNTRY_BY_ADJ: dict[str, str] = {}  # lowercased adjective or demonym -> country
CAPITALS: dict[str, str] = {}  # lowercased capital -> country
LEADER_COUNTRY: dict[str, str] = {}  # lowercased leader surname -> country

for _line in _COUNTRIES.strip().splitlines():
    _name, _aliases, _adjs, _caps, _leaders = (_line.split("|") + [""] * 5)[:5]
    COUNTRY_BY_NAME[_name.lower()] = _name
    for _a in filter(None, _aliases.split(";")):
        COUNTRY_BY_NAME[_a.lower()] = _name
    for _a in filter(None, _adjs.split(";")):
        COUNTRY_BY_ADJ[_a.lower()] = _name
    for _a in filter(None, _caps.split(";")):
        COUNTRY_BY_NAME.setdefault(_a.lower(), _name)
        CAPITALS[_a.lower()] = _name
    for _a in filter(None, _leaders.split(";")):
        if _a.lower() not in _AMBIGUOUS_LEADERS:
            LEADER_COUNTRY[_a.lower()] = _name
# "Saudi" is both alias and adjective.
COUNTRY_BY_ADJ.setdefault("saudi", "Saudi Arabia")

# Cities that political news uses for an institution other than their country's government:
# "Brussels insists ..." is the European Union (Belgium's government is rarely meant).
METONYM_ORGS: dict[str, str] = {"brussels": "European Union", "strasbourg": "European Parliament"}

# Seats of power spaCy does not tag as a place: found by their surface form (capitalised).
SEAT_FORMS = ("Number 10", "No 10", "No. 10", "Downing Street", "Kremlin", "White House", "Whitehall",
              "Elysee Palace", "Élysée Palace", "Zhongnanhai")

# Organisations spaCy often misses or mislabels: surface form -> canonical name.
ORGS: dict[str, str] = {
    "IRGC": "IRGC",
    "Islamic Revolutionary Guard Corps": "IRGC",
    "Islamic Revolutionary Guards Corps": "IRGC",
    "Revolutionary Guard": "IRGC",
    "Revolutionary Guards": "IRGC",
    "Revolutionary Guard Corps": "IRGC",
    "Quds Force": "Quds Force",
    "Qods Force": "Quds Force",
    "Basij": "Basij",
    "Hezbollah": "Hezbollah",
    "Hizbollah": "Hezbollah",
    "Hizballah": "Hezbollah",
    "Hamas": "Hamas",
    "Islamic Jihad": "Islamic Jihad",
    "Houthis": "Houthis",
    "Houthi": "Houthis",
    "ISIS": "ISIS",
    "ISIL": "ISIS",
    "Daesh": "ISIS",
    "Islamic State": "ISIS",
    "al-Qaeda": "al-Qaeda",
    "al-Qaida": "al-Qaeda",
    "Al-Qaeda": "al-Qaeda",
    "Al Qaeda": "al-Qaeda",
    "al Qaeda": "al-Qaeda",
    "Taliban": "Taliban",
    "Nusra Front": "Nusra Front",
    "al-Nusra": "Nusra Front",
    "Hayat Tahrir al-Sham": "HTS",
    "HTS": "HTS",
    "Free Syrian Army": "Free Syrian Army",
    "FSA": "Free Syrian Army",
    "SDF": "SDF",
    "Syrian Democratic Forces": "SDF",
    "PKK": "PKK",
    "YPG": "YPG",
    "Wagner Group": "Wagner Group",
    "Wagner": "Wagner Group",
    "NATO": "NATO",
    "UN": "United Nations",
    "U.N.": "United Nations",
    "United Nations": "United Nations",
    "UN Security Council": "UN Security Council",
    "Security Council": "UN Security Council",
    "EU": "European Union",
    "European Union": "European Union",
    "European Commission": "European Commission",
    "IAEA": "IAEA",
    "OPEC": "OPEC",
    "Pentagon": "Pentagon",
    "CIA": "CIA",
    "FBI": "FBI",
    "Mossad": "Mossad",
    "FSB": "FSB",
    "Kataib Hezbollah": "Kataib Hezbollah",
    "Popular Mobilization Forces": "Popular Mobilization Forces",
    "PMF": "Popular Mobilization Forces",
    "Extinction Rebellion": "Extinction Rebellion",
    "Greenpeace": "Greenpeace",
    "IPCC": "IPCC",
    "Intergovernmental Panel on Climate Change": "IPCC",
}

# Platforms spaCy sometimes takes for people ("Twitter"): organisations when they act.
PLATFORMS = {"twitter", "facebook", "youtube", "instagram", "tiktok", "whatsapp", "telegram", "google", "reddit"}

# Short forms of party members and supporters that spaCy sometimes takes for a person's name
# ("looks like Dem parody bill"): a nationality-like word (NORP), never a person.
PARTY_SHORT_FORMS = {"dem", "dems", "repub", "repubs", "lib dem", "lib dems", "libdem", "libdems",
                     "tory", "tories"}

# Acronyms spaCy labels ORG that name things, not organisations ("the FAQ page", "GDP grew",
# "3 p.m. GMT"): documents and formats, measures, time zones, substances and technology.
THING_ACRONYMS = {
    "faq", "faqs", "pdf", "url", "html", "usb", "gps", "atm", "suv", "suvs", "tv", "dvd", "ai",
    "gdp", "gnp", "cpi", "roi", "iq", "aqi", "gmt", "utc", "est", "edt", "cst", "cdt", "pst", "pdt", "bst",
    "cet", "co2", "ghg", "ghgs", "lng", "gmo", "gmos", "pfas", "pcb", "pcbs", "dna", "rna", "hiv", "aids",
    "ptsd", "adhd", "id", "ids", "diy", "asap", "fyi", "rsvp", "ceo", "ceos", "cfo", "coo", "cto", "phd", "mba",
}

# Capitalised institution names that are actors although their lowercase form is generic:
# "Congress voted", "the Senate", "Parliament" (but "the army", "a court" are not names).
INSTITUTIONS = {"congress", "senate", "parliament", "house of commons", "house of lords", "supreme court",
                "house of representatives", "bundestag", "knesset", "duma", "state duma", "majlis"}

# ORG "entities" that are only common nouns: never an actor on their own.
GENERIC_ORGS = {
    "army", "government", "regime", "military", "navy", "air force", "parliament", "ministry", "police",
    "state", "administration", "congress", "senate", "court", "forces", "force", "the army", "the government",
    "ground", "council", "committee", "cabinet", "department", "agency", "office", "party",
}

# Topics, campaigns and laws that spaCy sometimes labels PERSON, ORG or GPE: never actors.
TOPICS = {
    "brexit", "obamacare", "trumpcare", "medicare", "medicaid", "covid", "covid-19", "coronavirus", "remain",
    "leave", "climate change", "global warming", "green new deal", "new deal", "referendum", "bill", "act",
    "brexiteer", "brexiteers", "remainer", "remainers", "maga", "black lives matter", "blm", "metoo", "#metoo",
    "cap-and-trade", "paris agreement", "paris accord", "paris climate agreement", "paris climate accord",
    "clean power plan", "the clean power plan", "holocaust", "jihad", "sharia", "facebook post",
    "islam", "christianity", "judaism", "hinduism", "buddhism", "hajj", "ramadan", "homeopathy",
}
# The last word of a law's, a treaty's or a plan's name: "the Affordable Care Act", "the Iran deal".
POLICY_HEADS = {"act", "bill", "treaty", "agreement", "accord", "accords", "deal", "plan", "referendum", "law",
                "protocol", "amendment", "doctrine", "directive", "regulation", "regulations", "reform",
                "reforms", "budget", "pact", "summit", "election", "elections", "crisis", "era"}

# Topics a story can still cast as a hero, villain or victim ("climate change threatens ...",
# "the Green New Deal would wreck ..."): laws, programmes and phenomena. The non-human cast
# (redline.components.cast) may make them actors of type THING or LAW; the other topics
# (Brexit, religions, movements, hashtags) are subjects of debate and never actors.
CASTABLE_TOPICS = {
    "act", "bill", "cap-and-trade", "clean power plan", "the clean power plan", "climate change", "global warming",
    "green new deal", "new deal", "medicaid", "medicare", "obamacare", "trumpcare", "paris accord",
    "paris agreement", "paris climate accord", "paris climate agreement", "coronavirus", "covid", "covid-19",
}
DEBATE_TOPICS = TOPICS - CASTABLE_TOPICS

# News and photo agencies: actors when they report ("Reuters reported"), never in a credit
# ("Photo: AFP/Getty Images", "(Reuters) -", a line "REUTERS").
CREDIT_AGENCIES = {"reuters", "afp", "ap", "getty", "getty images", "pa", "epa", "shutterstock", "alamy",
                   "associated press", "agence france-presse", "anadolu", "xinhua", "tass", "sipa", "rex",
                   "bloomberg", "ansa", "dpa", "efe", "upi", "reuters/", "pa images", "pa wire", "afp/getty images"}

LEADER_TITLES = {
    "president", "leader", "dictator", "ruler", "prime", "minister", "premier", "king", "emir", "sultan",
    "chancellor", "ayatollah", "supreme",
}

# Words that can stand before a name as a title: "Gen. Pourdastan", "President Bashar al-Assad".
TITLES = {
    "gen.", "gen", "general", "lt.", "lt", "lieutenant", "col.", "col", "colonel", "maj.", "brig.", "brigadier",
    "adm.", "admiral", "capt.", "captain", "sgt.", "sergeant", "cmdr.", "commander", "marshal", "field",
    "president", "vice", "prime", "minister", "foreign", "defense", "defence", "interior", "secretary",
    "sen.", "senator", "rep.", "representative", "gov.", "governor", "mayor", "mr.", "mrs.", "ms.", "dr.",
    "prof.", "professor", "sheikh", "shaykh", "ayatollah", "grand", "imam", "cleric", "king", "queen",
    "prince", "princess", "crown", "emir", "sultan", "pope", "chancellor", "chairman", "premier", "supreme",
    "leader", "judge", "justice", "ambassador", "spokesman", "spokeswoman", "dictator", "mullah", "saint",
    "mr", "mrs", "ms", "miss", "dr", "sir", "dame", "lord", "lady", "baroness", "baron", "pm", "mp", "rev",
    "rev.", "reverend", "fr.", "gov", "sen", "rep", "congressman", "congresswoman", "attorney", "commissioner",
    "administrator", "director", "deputy", "speaker", "chief", "secretary-general", "councillor", "councilman",
    "councilwoman", "mme", "m.", "herr", "frau", "chairwoman", "chair",
}

# Titles that are only ever put before a person's name: "Mrs May" is a person even where
# spaCy reads "May" as a date.
HONORIFICS = {"mr", "mrs", "ms", "miss", "dr", "sir", "dame", "lord", "lady", "baroness", "baron", "mme", "mr.",
              "mrs.", "ms.", "dr.", "prof.", "rev", "rev.", "reverend", "herr", "frau"}

# Generational suffixes: part of who a person is ("Donald Trump Jr." is not "Donald Trump").
NAME_SUFFIXES = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "junior", "senior"}

NAME_PARTICLES = {"al", "el", "bin", "ibn", "bint", "abu", "de", "da", "van", "von", "der", "del", "la", "le",
                  "-", "‑"}


def country_of_name(text: str) -> str | None:
    """Country for a country name, alias or capital ("Tehran" -> "Iran")."""
    t = text.strip().strip("-‑–").lower()
    if t.startswith("the "):
        t2 = t[4:]
        return COUNTRY_BY_NAME.get(t) or COUNTRY_BY_NAME.get(t2)
    return COUNTRY_BY_NAME.get(t)


def country_of_adj(text: str) -> str | None:
    """Country for an adjective or demonym ("Iranian", "Iranians", "Iranian’s" -> "Iran")."""
    t = text.strip().strip("-‑–").lower()
    for suffix in ("’s", "'s", "’", "'"):
        if t.endswith(suffix):
            t = t[: -len(suffix)]
    return COUNTRY_BY_ADJ.get(t)
