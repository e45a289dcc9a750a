#!/usr/bin/env python3
"""Validates utbyte's catalog exports with rdflib and pyshacl.

Usage: validate_exports.py DIR [--rulebook DIR] [--shapes DIR]

DIR holds the four files crates/catalog/tests/export.rs writes: dcat.rdf and dcat.jsonld (the
DCAT-AP-SE export), skos.rdf and skos.jsonld (the SKOS export). For each export this script

1. parses both serialisations with rdflib (formats "xml" and "json-ld"),
2. checks that they are the same graph (isomorphic, blank nodes included),
3. validates the graph with pyshacl against docs/shapes/dcat-ap-se.ttl or docs/shapes/skos.ttl,
4. checks facts the shapes cannot know: every offering of the rulebook is a dataset published by
   its provider under the rulebook's name and organisationsnummer, access rights follow the kind
   of the secrecy provision, every concept the catalog refers to is in the SKOS export, and every
   SSSOM mapping record is backed by the SKOS mapping triple it describes.

Exit status: 0 when everything holds, 1 when anything does not (every problem is printed, the
SHACL report in full), 2 on a usage error, 3 when rdflib or pyshacl is not installed.
"""

import argparse
import pathlib
import sys
import tomllib

try:
    import pyshacl
    import rdflib
    from rdflib.compare import graph_diff, isomorphic, to_isomorphic
    from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, RDF, SKOS
except ImportError as missing:
    print(
        f"validate_exports.py needs rdflib and pyshacl ({missing}); "
        "install them with: python3 -m pip install -r requirements.txt",
        file=sys.stderr,
    )
    sys.exit(3)

REPO = pathlib.Path(__file__).resolve().parents[3]
VCARD = rdflib.Namespace("http://www.w3.org/2006/vcard/ns#")
ACCESS_RIGHT = rdflib.Namespace("http://publications.europa.eu/resource/authority/access-right/")
EU_THEME = "http://publications.europa.eu/resource/authority/data-theme/"
SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")

EXPORTS = {
    "dcat": "dcat-ap-se.ttl",
    "skos": "skos.ttl",
}


class Problems:
    """Every problem found, so one run reports all of them."""

    def __init__(self):
        self.items = []

    def add(self, export, message):
        self.items.append(f"{export}: {message}")

    def check(self, export, holds, message):
        if not holds:
            self.add(export, message)


def parse(path, fmt, problems, export):
    graph = rdflib.Graph()
    try:
        graph.parse(path, format=fmt)
    except Exception as error:  # rdflib raises many types; any of them is a failed parse
        problems.add(export, f"{path.name} does not parse as {fmt}: {error}")
        return None
    if len(graph) == 0:
        problems.add(export, f"{path.name} parses to an empty graph")
        return None
    return graph


def same_graph(export, xml, jsonld, problems):
    if isomorphic(xml, jsonld):
        return
    _, only_xml, only_jsonld = graph_diff(to_isomorphic(xml), to_isomorphic(jsonld))
    lines = [f"RDF/XML and JSON-LD are different graphs ({len(xml)} and {len(jsonld)} triples)"]
    for label, diff in (("only in RDF/XML", only_xml), ("only in JSON-LD", only_jsonld)):
        for triple in sorted(diff)[:10]:
            lines.append(f"  {label}: {' '.join(t.n3() for t in triple)}")
    problems.add(export, "\n".join(lines))


def conforms(export, graph, shapes_dir, problems):
    shapes = rdflib.Graph().parse(shapes_dir / EXPORTS[export], format="turtle")
    ok, results, text = pyshacl.validate(
        graph, shacl_graph=shapes, inference="none", abort_on_first=False
    )
    if ok:
        return True
    summary = []
    for result in results.subjects(RDF.type, SH.ValidationResult):
        focus = results.value(result, SH.focusNode)
        path = results.value(result, SH.resultPath)
        component = results.value(result, SH.sourceConstraintComponent)
        message = results.value(result, SH.resultMessage)
        summary.append(f"  focus {focus} path {path} ({component}): {message}")
    problems.add(
        export,
        "NONCONFORMANT to the SHACL shapes:\n" + "\n".join(sorted(summary)) + "\n" + text,
    )
    return False


def load_rulebook(directory):
    def read(name):
        with open(directory / name, "rb") as file:
            return tomllib.load(file)

    authorities = {a["id"]: a for a in read("authorities.toml").get("authority", [])}
    # Notice kinds are sent on the sender's initiative, never asked for: not datasets.
    offerings = [o for o in read("offerings.toml").get("offering", []) if not o.get("notice")]
    provisions = {p["id"]: p for p in read("provisions.toml").get("provision", [])}
    return authorities, offerings, provisions


def dcat_facts(graph, skos, rulebook, problems):
    authorities, offerings, provisions = rulebook
    catalogs = list(graph.subjects(RDF.type, DCAT.Catalog))
    problems.check("dcat", len(catalogs) == 1, f"expected one dcat:Catalog, found {len(catalogs)}")
    if len(catalogs) != 1:
        return
    catalog = catalogs[0]
    listed = set(graph.objects(catalog, DCAT.dataset))
    problems.check(
        "dcat",
        len(listed) == len(offerings),
        f"the catalog lists {len(listed)} datasets; the rulebook has {len(offerings)} offerings",
    )
    by_identifier = {str(graph.value(d, DCTERMS.identifier)): d for d in listed}
    concepts = set(skos.subjects(RDF.type, SKOS.Concept)) if skos is not None else None

    for offering in offerings:
        oid = offering["id"]
        dataset = by_identifier.get(oid)
        if dataset is None:
            problems.add("dcat", f"offering {oid} is not a dataset of the catalog")
            continue
        problems.check(
            "dcat", (dataset, RDF.type, DCAT.Dataset) in graph, f"{oid} is not a dcat:Dataset"
        )
        provider = authorities[offering["provider"]]
        publisher = graph.value(dataset, DCTERMS.publisher)
        names = {str(n) for n in graph.objects(publisher, FOAF.name)}
        problems.check(
            "dcat",
            names == {provider["name"]},
            f"{oid}: publisher named {sorted(names)}, the rulebook names {provider['name']!r}",
        )
        orgnr = {str(n) for n in graph.objects(publisher, DCTERMS.identifier)}
        problems.check(
            "dcat",
            orgnr == {provider["orgnr"]},
            f"{oid}: publisher identified as {sorted(orgnr)}, the rulebook has {provider['orgnr']}",
        )
        secret = provisions[offering["secrecy"]]["kind"] == "secrecy"
        expected = ACCESS_RIGHT.NON_PUBLIC if secret else ACCESS_RIGHT.PUBLIC
        rights = graph.value(dataset, DCTERMS.accessRights)
        problems.check(
            "dcat",
            rights == expected,
            f"{oid}: access rights {rights}, expected {expected} for {offering['secrecy']}",
        )
        contact = graph.value(dataset, DCAT.contactPoint)
        email = graph.value(contact, VCARD.hasEmail) if contact is not None else None
        problems.check("dcat", email is not None, f"{oid}: no contact point with an e-mail address")
        served = [
            s
            for d in graph.objects(dataset, DCAT.distribution)
            for s in graph.objects(d, DCAT.accessService)
            if (s, DCAT.servesDataset, dataset) in graph
        ]
        problems.check(
            "dcat",
            any(graph.value(s, DCTERMS.publisher) == publisher for s in served),
            f"{oid}: no distribution through a data service of its provider that serves it",
        )
        themes = [t for t in graph.objects(dataset, DCAT.theme) if not str(t).startswith(EU_THEME)]
        problems.check("dcat", themes, f"{oid}: no shared concept among its themes")
        if concepts is not None:
            for theme in themes:
                problems.check(
                    "dcat", theme in concepts, f"{oid}: theme {theme} is not in the SKOS export"
                )


def skos_facts(graph, problems):
    for axiom in graph.subjects(RDF.type, OWL.Axiom):
        triple = (
            graph.value(axiom, OWL.annotatedSource),
            graph.value(axiom, OWL.annotatedProperty),
            graph.value(axiom, OWL.annotatedTarget),
        )
        problems.check(
            "skos",
            None not in triple and triple in graph,
            f"mapping record {axiom} describes a mapping the graph does not state: {triple}",
        )
    for concept, broader in graph.subject_objects(SKOS.broader):
        problems.check(
            "skos",
            (broader, SKOS.narrower, concept) in graph,
            f"{concept} is narrower than {broader}, which does not list it as narrower",
        )
    for concept, narrower in graph.subject_objects(SKOS.narrower):
        problems.check(
            "skos",
            (narrower, SKOS.broader, concept) in graph,
            f"{concept} lists {narrower} as narrower, which is not broader than it",
        )
    for scheme, top in graph.subject_objects(SKOS.hasTopConcept):
        problems.check(
            "skos",
            (top, SKOS.topConceptOf, scheme) in graph,
            f"{top} is a top concept of {scheme} without skos:topConceptOf",
        )
        problems.check(
            "skos",
            (top, SKOS.broader, None) not in graph,
            f"top concept {top} has a broader concept",
        )


def main():
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument("directory", type=pathlib.Path)
    arguments.add_argument("--rulebook", type=pathlib.Path, default=REPO / "rulebook")
    arguments.add_argument("--shapes", type=pathlib.Path, default=REPO / "docs" / "shapes")
    options = arguments.parse_args()

    problems = Problems()
    graphs = {}
    for export in EXPORTS:
        xml = parse(options.directory / f"{export}.rdf", "xml", problems, export)
        jsonld = parse(options.directory / f"{export}.jsonld", "json-ld", problems, export)
        if xml is None or jsonld is None:
            continue
        same_graph(export, xml, jsonld, problems)
        conforms(export, xml, options.shapes, problems)
        graphs[export] = xml
        print(f"{export}: {len(xml)} triples parsed from RDF/XML and JSON-LD")

    if "dcat" in graphs:
        dcat_facts(graphs["dcat"], graphs.get("skos"), load_rulebook(options.rulebook), problems)
    if "skos" in graphs:
        skos_facts(graphs["skos"], problems)

    if problems.items:
        for item in problems.items:
            print(item)
        print(f"{len(problems.items)} problem(s) in the exports in {options.directory}")
        return 1
    print(f"exports in {options.directory}: parsed, isomorphic, conforming, facts hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
