//! Document exports: the relationship graph and reports in the formats
//! other tools read. Pure functions of the stored analysis (the DESIGN.md
//! JSON) and the document's metadata; no I/O.
//!
//! - `graphml` and `gexf`: the character graph for Gephi, yEd, NetworkX;
//! - `cypher`: statements that load the graph into Neo4j (`MERGE`, so
//!   running them twice changes nothing);
//! - `csv`: one row per character; `md`: a readable report; `txt`: the text;
//!   `json`: the analysis itself.

use serde::Serialize;
use serde_json::Value;
use std::fmt::Write as _;
use utoipa::ToSchema;

/// A character node of the graph.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Node {
    /// The analysis id (`c1`, …).
    pub id: String,
    pub label: String,
    pub gender: Option<String>,
    pub mention_count: u64,
    pub quote_count: u64,
}

/// A weighted tie between two characters.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Edge {
    pub source: String,
    pub target: String,
    /// 0..1, the strongest tie of the book is 1.
    pub weight: f64,
    /// Exchanges of dialogue between the two.
    pub interactions: u64,
}

/// The relationship graph of a document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// Builds the graph from an analysis; edges to unknown characters are dropped.
pub fn graph(analysis: &Value) -> Graph {
    let nodes: Vec<Node> = analysis["characters"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| {
                    Some(Node {
                        id: c["id"].as_str()?.to_string(),
                        label: c["name"].as_str().unwrap_or_default().to_string(),
                        gender: c["gender"].as_str().map(str::to_string),
                        mention_count: c["mention_count"].as_u64().unwrap_or(0),
                        quote_count: c["quote_count"].as_u64().unwrap_or(0),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let known: std::collections::HashSet<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
    let edges = analysis["relationships"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter_map(|r| {
                    let (s, t) = (r["source"].as_str()?, r["target"].as_str()?);
                    (known.contains(s) && known.contains(t)).then(|| Edge {
                        source: s.to_string(),
                        target: t.to_string(),
                        weight: r["weight"].as_f64().unwrap_or(0.0),
                        interactions: r["interactions"].as_u64().unwrap_or(0),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Graph { nodes, edges }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

pub fn graphml(g: &Graph) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n\
         <key id=\"label\" for=\"node\" attr.name=\"label\" attr.type=\"string\"/>\n\
         <key id=\"gender\" for=\"node\" attr.name=\"gender\" attr.type=\"string\"/>\n\
         <key id=\"mentions\" for=\"node\" attr.name=\"mentions\" attr.type=\"int\"/>\n\
         <key id=\"quotes\" for=\"node\" attr.name=\"quotes\" attr.type=\"int\"/>\n\
         <key id=\"weight\" for=\"edge\" attr.name=\"weight\" attr.type=\"double\"/>\n\
         <key id=\"interactions\" for=\"edge\" attr.name=\"interactions\" attr.type=\"int\"/>\n\
         <graph id=\"characters\" edgedefault=\"undirected\">\n",
    );
    for n in &g.nodes {
        let _ = writeln!(
            s,
            "<node id=\"{}\"><data key=\"label\">{}</data><data key=\"gender\">{}</data>\
             <data key=\"mentions\">{}</data><data key=\"quotes\">{}</data></node>",
            xml_escape(&n.id),
            xml_escape(&n.label),
            xml_escape(n.gender.as_deref().unwrap_or("")),
            n.mention_count,
            n.quote_count
        );
    }
    for (i, e) in g.edges.iter().enumerate() {
        let _ = writeln!(
            s,
            "<edge id=\"e{i}\" source=\"{}\" target=\"{}\"><data key=\"weight\">{}</data>\
             <data key=\"interactions\">{}</data></edge>",
            xml_escape(&e.source),
            xml_escape(&e.target),
            e.weight,
            e.interactions
        );
    }
    s.push_str("</graph>\n</graphml>\n");
    s
}

pub fn gexf(g: &Graph, title: &str) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <gexf xmlns=\"http://gexf.net/1.3\" version=\"1.3\">\n\
         <meta><creator>dramatis</creator><description>{}</description></meta>\n\
         <graph defaultedgetype=\"undirected\">\n\
         <attributes class=\"node\"><attribute id=\"0\" title=\"gender\" type=\"string\"/>\
         <attribute id=\"1\" title=\"mentions\" type=\"integer\"/><attribute id=\"2\" title=\"quotes\" type=\"integer\"/>\
         </attributes>\n<nodes>\n",
        xml_escape(title)
    );
    for n in &g.nodes {
        let _ = writeln!(
            s,
            "<node id=\"{}\" label=\"{}\"><attvalues><attvalue for=\"0\" value=\"{}\"/>\
             <attvalue for=\"1\" value=\"{}\"/><attvalue for=\"2\" value=\"{}\"/></attvalues></node>",
            xml_escape(&n.id),
            xml_escape(&n.label),
            xml_escape(n.gender.as_deref().unwrap_or("")),
            n.mention_count,
            n.quote_count
        );
    }
    s.push_str("</nodes>\n<edges>\n");
    for (i, e) in g.edges.iter().enumerate() {
        let _ = writeln!(
            s,
            "<edge id=\"{i}\" source=\"{}\" target=\"{}\" weight=\"{}\"/>",
            xml_escape(&e.source),
            xml_escape(&e.target),
            e.weight
        );
    }
    s.push_str("</edges>\n</graph>\n</gexf>\n");
    s
}

fn cypher_str(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Rows per `UNWIND` statement: large enough to keep the script short,
/// small enough for any Neo4j transaction.
const CYPHER_BATCH: usize = 500;

/// Neo4j statements; characters are keyed by document and analysis id.
/// Nodes and edges go in batched `UNWIND` statements (compact, and fast to
/// load), all with `MERGE`, so running the script twice changes nothing.
pub fn cypher(g: &Graph, document_id: &str, title: &str) -> String {
    let doc = cypher_str(document_id);
    let mut s = format!("MERGE (b:Book {{id: {doc}}}) SET b.title = {};\n", cypher_str(title));
    for chunk in g.nodes.chunks(CYPHER_BATCH) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|n| {
                format!(
                    "{{id: {}, name: {}, gender: {}, mentions: {}, quotes: {}}}",
                    cypher_str(&n.id),
                    cypher_str(&n.label),
                    n.gender.as_deref().map_or("null".to_string(), cypher_str),
                    n.mention_count,
                    n.quote_count
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "MATCH (b:Book {{id: {doc}}}) UNWIND [{}] AS row \
             MERGE (c:Character {{book: {doc}, id: row.id}}) \
             SET c.name = row.name, c.gender = row.gender, c.mentions = row.mentions, c.quotes = row.quotes \
             MERGE (c)-[:APPEARS_IN]->(b);",
            rows.join(", ")
        );
    }
    for chunk in g.edges.chunks(CYPHER_BATCH) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|e| {
                format!(
                    "{{s: {}, t: {}, w: {:.4}, i: {}}}",
                    cypher_str(&e.source),
                    cypher_str(&e.target),
                    e.weight,
                    e.interactions
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "UNWIND [{}] AS row \
             MATCH (a:Character {{book: {doc}, id: row.s}}), (b:Character {{book: {doc}, id: row.t}}) \
             MERGE (a)-[r:INTERACTS_WITH]-(b) SET r.weight = row.w, r.interactions = row.i;",
            rows.join(", ")
        );
    }
    s
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One row per character.
pub fn csv(analysis: &Value) -> String {
    let mut s = String::from("id,name,aliases,gender,mention_count,quote_count,first_mention\n");
    for c in analysis["characters"].as_array().into_iter().flatten() {
        let aliases: Vec<&str> = c["aliases"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{}",
            csv_field(c["id"].as_str().unwrap_or_default()),
            csv_field(c["name"].as_str().unwrap_or_default()),
            csv_field(&aliases.join("; ")),
            csv_field(c["gender"].as_str().unwrap_or_default()),
            c["mention_count"].as_u64().unwrap_or(0),
            c["quote_count"].as_u64().unwrap_or(0),
            c["first_mention"].as_u64().unwrap_or(0)
        );
    }
    s
}

/// A readable report: summary, stats, the cast, the strongest ties.
pub fn markdown(analysis: &Value, title: &str, authors: &[String]) -> String {
    let g = graph(analysis);
    let mut s = format!("# {}\n\n", title.replace('\n', " "));
    if !authors.is_empty() {
        let _ = writeln!(s, "by {}\n", authors.join(", "));
    }
    let st = &analysis["stats"];
    s.push_str("## Statistics\n\n| measure | value |\n|---|---|\n");
    if let Some(o) = st.as_object() {
        for (k, v) in o {
            if v.is_number() || v.is_string() {
                let _ = writeln!(s, "| {} | {} |", k.replace('_', " "), v.to_string().trim_matches('"'));
            }
        }
    }
    s.push_str("\n## Cast\n\n| name | aliases | gender | mentions | quotes |\n|---|---|---|---|---|\n");
    for c in analysis["characters"].as_array().into_iter().flatten().take(50) {
        let aliases: Vec<&str> = c["aliases"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            c["name"].as_str().unwrap_or_default().replace('|', "/"),
            aliases.join(", ").replace('|', "/"),
            c["gender"].as_str().unwrap_or("–"),
            c["mention_count"].as_u64().unwrap_or(0),
            c["quote_count"].as_u64().unwrap_or(0)
        );
    }
    let names: std::collections::HashMap<&str, &str> =
        g.nodes.iter().map(|n| (n.id.as_str(), n.label.as_str())).collect();
    let mut edges = g.edges.clone();
    edges.sort_by(|a, b| b.weight.partial_cmp(&a.weight).unwrap_or(std::cmp::Ordering::Equal));
    s.push_str("\n## Strongest relationships\n\n| between | and | weight | exchanges |\n|---|---|---|---|\n");
    for e in edges.iter().take(25) {
        let _ = writeln!(
            s,
            "| {} | {} | {:.2} | {} |",
            names.get(e.source.as_str()).unwrap_or(&"?"),
            names.get(e.target.as_str()).unwrap_or(&"?"),
            e.weight,
            e.interactions
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "stats": {"words": 10},
            "characters": [
                {"id": "c1", "name": "Elizabeth \"Lizzy\" <Bennet> & co", "aliases": ["Lizzy", "Eliza, dear"], "gender": "she/her", "mention_count": 5, "quote_count": 2, "first_mention": 0},
                {"id": "c2", "name": "O'Darcy", "aliases": [], "gender": null, "mention_count": 3, "quote_count": 1, "first_mention": 9}
            ],
            "relationships": [{"source": "c1", "target": "c2", "weight": 1.0, "interactions": 4},
                              {"source": "c1", "target": "c9", "weight": 0.5, "interactions": 0}]
        })
    }

    #[test]
    fn graph_drops_edges_to_unknown_nodes() {
        let g = graph(&sample());
        assert_eq!(g.nodes.len(), 2);
        assert_eq!(g.edges.len(), 1);
    }

    #[test]
    fn xml_exports_escape_names() {
        let g = graph(&sample());
        let x = graphml(&g);
        assert!(x.contains("Elizabeth &quot;Lizzy&quot; &lt;Bennet&gt; &amp; co"));
        assert!(x.contains("<edge id=\"e0\" source=\"c1\" target=\"c2\">"));
        let x = gexf(&g, "A & B");
        assert!(x.contains("<description>A &amp; B</description>"));
    }

    #[test]
    fn cypher_quotes_strings() {
        let c = cypher(&graph(&sample()), "doc-1", "It's");
        assert!(c.contains("'O\\'Darcy'"));
        assert!(c.contains("MERGE (a)-[r:INTERACTS_WITH]-(b)"));
        assert!(c.contains("UNWIND [{s: 'c1', t: 'c2', w: 1.0000, i: 4}] AS row"));
        assert_eq!(c.lines().count(), 3, "book, one node batch, one edge batch:\n{c}");
    }

    #[test]
    fn csv_quotes_fields_with_commas_and_quotes() {
        let c = csv(&sample());
        assert!(c.starts_with("id,name,aliases"));
        assert!(c.contains("\"Elizabeth \"\"Lizzy\"\" <Bennet> & co\""));
        assert!(c.contains("\"Lizzy; Eliza, dear\""));
    }
}
