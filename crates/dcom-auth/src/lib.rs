#![cfg_attr(doc, doc = include_str!("../README.md"))]
