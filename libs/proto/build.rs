//! Generates Temporal's `WorkflowService` (server side) and every message it uses from the
//! descriptor set that `temporalio-protos` compiles from the upstream `.proto` files, with
//! protojson serde impls (pbjson) so that a message converts to and from the JSON that
//! Temporal's HTTP API speaks.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;

use prost::Message;
use prost_types::{FileDescriptorProto, FileDescriptorSet};

/// The files whose services and messages Waymark serves; everything they import comes along.
const ROOTS: &[&str] = &[
    "temporal/api/workflowservice/v1/service.proto",
    "temporal/api/errordetails/v1/message.proto",
    "google/rpc/status.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let descriptors = std::env::var("DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH")?;
    println!("cargo:rerun-if-changed={descriptors}");
    let all = FileDescriptorSet::decode(std::fs::read(&descriptors)?.as_slice())?;
    let files = closure(&all.file);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);

    // Code for Temporal's packages and google.rpc is included by `packages.rs`; prost needs
    // every file to resolve types, and the well-known types are pbjson-types'.
    let packages: BTreeSet<String> = files
        .iter()
        .map(|f| f.package().to_owned())
        .filter(|p| p.starts_with("temporal.api.") || p == "google.rpc")
        .collect();
    // The whole closure, well-known types included, also serves gRPC reflection.
    let closure = FileDescriptorSet { file: files };
    let encoded = closure.encode_to_vec();
    std::fs::write(out.join("temporal_descriptor.bin"), &encoded)?;

    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
    // The well-known types are pbjson-types', which have protojson serde impls.
    config.prost_types_path("::pbjson_types");
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .build_transport(false)
        // RPCs Waymark does not serve answer UNIMPLEMENTED (named by the frontend).
        .generate_default_stubs(true)
        .compile_fds_with_config(closure, config)?;
    pbjson_build::Builder::new()
        .register_descriptors(&encoded)?
        .extern_path(".google.protobuf", "::pbjson_types")
        // A newer SDK may send fields this build does not know; protobuf drops them too.
        .ignore_unknown_fields()
        .build(&[".temporal.api"])?;

    std::fs::write(out.join("packages.rs"), module_tree(&packages))?;
    Ok(())
}

/// The files named by `ROOTS` and, transitively, every file they import.
fn closure(all: &[FileDescriptorProto]) -> Vec<FileDescriptorProto> {
    let by_name: HashMap<&str, &FileDescriptorProto> = all.iter().map(|f| (f.name(), f)).collect();
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&str> = ROOTS.to_vec();
    while let Some(name) = todo.pop() {
        if seen.insert(name.to_owned()) {
            let file = by_name
                .get(name)
                .unwrap_or_else(|| panic!("{name} is not in temporalio-protos' descriptors"));
            todo.extend(file.dependency.iter().map(String::as_str));
        }
    }
    // Dependencies first, as a descriptor pool expects.
    let mut ordered = Vec::new();
    let mut placed = BTreeSet::new();
    fn place<'a>(
        name: &'a str,
        by_name: &HashMap<&str, &'a FileDescriptorProto>,
        placed: &mut BTreeSet<&'a str>,
        ordered: &mut Vec<FileDescriptorProto>,
    ) {
        if !placed.insert(name) {
            return;
        }
        let file = by_name[name];
        for dep in &file.dependency {
            place(dep, by_name, placed, ordered);
        }
        ordered.push(file.clone());
    }
    for name in &seen {
        let name = by_name[name.as_str()].name();
        place(name, &by_name, &mut placed, &mut ordered);
    }
    ordered
}

/// `pub mod temporal { pub mod api { ... } }` including each package's types and serde impls.
fn module_tree(packages: &BTreeSet<String>) -> String {
    #[derive(Default)]
    struct Node {
        children: std::collections::BTreeMap<String, Node>,
        package: Option<String>,
    }
    let mut root = Node::default();
    for package in packages {
        let mut node = &mut root;
        for part in package.split('.') {
            node = node.children.entry(part.to_owned()).or_default();
        }
        node.package = Some(package.clone());
    }
    fn write(node: &Node, out: &mut String) {
        if let Some(package) = &node.package {
            let _ = writeln!(
                out,
                "include!(concat!(env!(\"OUT_DIR\"), \"/{package}.rs\"));"
            );
            if package.starts_with("temporal.api.") {
                let _ = writeln!(
                    out,
                    "include!(concat!(env!(\"OUT_DIR\"), \"/{package}.serde.rs\"));"
                );
            }
        }
        for (name, child) in &node.children {
            let _ = writeln!(out, "pub mod {name} {{");
            write(child, out);
            let _ = writeln!(out, "}}");
        }
    }
    let mut out = String::new();
    write(&root, &mut out);
    out
}
