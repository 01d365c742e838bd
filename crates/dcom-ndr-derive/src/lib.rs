#![cfg_attr(doc, doc = include_str!("../README.md"))]
//! `#[derive(Ndr)]` for the `dcom-ndr` engine.

use proc_macro::TokenStream;
use proc_macro2::{Literal, Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{BinOp, Data, DeriveInput, Expr, Fields, Ident, Lit, LitStr, PathArguments, Type, UnOp, parse_macro_input};

/// Derives `dcom_ndr::Ndr` for structures, C enumerations and unions.
#[proc_macro_derive(Ndr, attributes(ndr))]
pub fn derive_ndr(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[derive(Default)]
struct ContainerAttrs {
    v1_enum: bool,
    params: bool,
    switch_type: Option<Type>,
    name: Option<String>,
}

#[derive(Default)]
struct FieldAttrs {
    size_is: Option<Expr>,
    length_is: Option<Expr>,
    switch_is: Option<Expr>,
    encapsulated: Option<Expr>,
    range: Option<(i128, i128)>,
    align: Option<usize>,
    string: bool,
}

#[derive(Default)]
struct VariantAttrs {
    case: Option<Expr>,
    default: bool,
}

fn parse_expr_str(s: &LitStr) -> syn::Result<Expr> {
    s.parse::<Expr>()
}

fn int_of(e: &Expr) -> syn::Result<i128> {
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Int(i) => i.base10_parse::<i128>(),
            other => Err(syn::Error::new(other.span(), "expected an integer literal")),
        },
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => int_of(&u.expr).map(|v| -v),
        Expr::Paren(p) => int_of(&p.expr),
        other => Err(syn::Error::new(other.span(), "expected an integer literal")),
    }
}

fn container_attrs(attrs: &[syn::Attribute]) -> syn::Result<ContainerAttrs> {
    let mut out = ContainerAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("ndr")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("v1_enum") {
                out.v1_enum = true;
            } else if meta.path.is_ident("params") {
                out.params = true;
            } else if meta.path.is_ident("switch_type") {
                out.switch_type = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("name") {
                out.name = Some(meta.value()?.parse::<LitStr>()?.value());
            } else {
                return Err(meta.error("unknown ndr container attribute"));
            }
            Ok(())
        })?;
    }
    Ok(out)
}

fn field_attrs(attrs: &[syn::Attribute]) -> syn::Result<FieldAttrs> {
    let mut out = FieldAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("ndr")) {
        attr.parse_nested_meta(|meta| {
            let p = &meta.path;
            if p.is_ident("size_is") {
                out.size_is = Some(parse_expr_str(&meta.value()?.parse()?)?);
            } else if p.is_ident("length_is") {
                out.length_is = Some(parse_expr_str(&meta.value()?.parse()?)?);
            } else if p.is_ident("switch_is") {
                out.switch_is = Some(parse_expr_str(&meta.value()?.parse()?)?);
            } else if p.is_ident("encapsulated") {
                out.encapsulated = Some(parse_expr_str(&meta.value()?.parse()?)?);
            } else if p.is_ident("range") {
                let content;
                syn::parenthesized!(content in meta.input);
                let list = content.parse_terminated(Expr::parse, syn::Token![,])?;
                let v: Vec<&Expr> = list.iter().collect();
                let [lo, hi] = v.as_slice() else {
                    return Err(meta.error("range takes two bounds: range(lo, hi)"));
                };
                out.range = Some((int_of(lo)?, int_of(hi)?));
            } else if p.is_ident("align") {
                let lit: syn::LitInt = meta.value()?.parse()?;
                let n: usize = lit.base10_parse()?;
                if !n.is_power_of_two() || n > 8 {
                    return Err(syn::Error::new(lit.span(), "align must be 1, 2, 4 or 8"));
                }
                out.align = Some(n);
            } else if p.is_ident("string") {
                out.string = true;
            } else {
                return Err(meta.error("unknown ndr field attribute"));
            }
            Ok(())
        })?;
    }
    Ok(out)
}

use syn::parse::Parse;

fn variant_attrs(attrs: &[syn::Attribute]) -> syn::Result<VariantAttrs> {
    let mut out = VariantAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("ndr")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("case") {
                out.case = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("default") {
                out.default = true;
            } else {
                return Err(meta.error("unknown ndr variant attribute"));
            }
            Ok(())
        })?;
    }
    Ok(out)
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let attrs = container_attrs(&input.attrs)?;
    match &input.data {
        Data::Struct(s) => expand_struct(input, &attrs, &s.fields),
        Data::Enum(e) => {
            if attrs.switch_type.is_some() {
                expand_union(input, &attrs, e)
            } else {
                expand_c_enum(input, &attrs, e)
            }
        }
        Data::Union(u) => Err(syn::Error::new(
            u.union_token.span(),
            "derive Ndr on a Rust enum with #[ndr(switch_type = T)] to describe an NDR union",
        )),
    }
}

/// Compiles a count expression over the fields of `__s` into checked arithmetic.
fn count_expr(e: &Expr, fields: &[Ident]) -> syn::Result<TokenStream2> {
    let rt = quote!(::dcom_ndr::codec::support);
    Ok(match e {
        Expr::Lit(_) => {
            let v = Literal::i128_suffixed(int_of(e)?);
            quote!(::core::option::Option::Some(#v))
        }
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => {
            let v = Literal::i128_suffixed(int_of(e)?);
            quote!(::core::option::Option::Some(#v))
        }
        Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => count_expr(&u.expr, fields)?,
        Expr::Paren(p) => count_expr(&p.expr, fields)?,
        Expr::Path(p) => {
            let Some(id) = p.path.get_ident() else {
                return Err(syn::Error::new(p.span(), "expected a field name"));
            };
            if !fields.contains(id) {
                return Err(syn::Error::new(id.span(), format!("no field named `{id}`")));
            }
            quote!(#rt::count(&__s.#id))
        }
        Expr::Field(f) => {
            let mut chain = Vec::new();
            let mut cur: &Expr = e;
            while let Expr::Field(ff) = cur {
                let syn::Member::Named(n) = &ff.member else {
                    return Err(syn::Error::new(ff.span(), "expected a named field"));
                };
                chain.push(n.clone());
                cur = &ff.base;
            }
            let Expr::Path(p) = cur else { return Err(syn::Error::new(f.span(), "expected a field path")) };
            let Some(id) = p.path.get_ident() else { return Err(syn::Error::new(p.span(), "expected a field")) };
            chain.reverse();
            quote!(#rt::count(&__s.#id #(.#chain)*))
        }
        Expr::Binary(b) => {
            let l = count_expr(&b.left, fields)?;
            let r = count_expr(&b.right, fields)?;
            let f = match b.op {
                BinOp::Add(_) => quote!(add),
                BinOp::Sub(_) => quote!(sub),
                BinOp::Mul(_) => quote!(mul),
                BinOp::Div(_) => quote!(div),
                _ => return Err(syn::Error::new(b.op.span(), "only + - * / are supported in count expressions")),
            };
            quote!(#rt::#f(#l, #r))
        }
        other => return Err(syn::Error::new(other.span(), "unsupported count expression")),
    })
}

struct FieldInfo {
    member: syn::Member,
    /// Local variable name while decoding.
    local: Ident,
    name: String,
    ty: Type,
    attrs: FieldAttrs,
}

fn is_option(ty: &Type) -> bool {
    if let Type::Path(p) = ty
        && let Some(seg) = p.path.segments.last()
    {
        return seg.ident == "Option" && matches!(seg.arguments, PathArguments::AngleBracketed(_));
    }
    false
}

fn expand_struct(input: &DeriveInput, attrs: &ContainerAttrs, fields: &Fields) -> syn::Result<TokenStream2> {
    let ident = &input.ident;
    let type_name = attrs.name.clone().unwrap_or_else(|| ident.to_string());
    let (impl_g, ty_g, where_c) = input.generics.split_for_impl();
    let nd = quote!(::dcom_ndr);
    let rt = quote!(::dcom_ndr::codec::support);

    let mut infos = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let (member, name) = match &f.ident {
            Some(id) => (syn::Member::Named(id.clone()), id.to_string()),
            None => (syn::Member::Unnamed(syn::Index::from(i)), i.to_string()),
        };
        let local = format_ident!("__f{}", i);
        infos.push(FieldInfo { member, local, name, ty: f.ty.clone(), attrs: field_attrs(&f.attrs)? });
    }
    let names: Vec<Ident> = fields.iter().filter_map(|f| f.ident.clone()).collect();

    // Attribute checks, evaluated against `__s: &Self`.
    let mut checks = Vec::new();
    let mut has_checks = false;
    for fi in &infos {
        let m = &fi.member;
        let fname = fi.name.as_str();
        let ty = &fi.ty;
        if let Some(e) = &fi.attrs.size_is {
            let c = count_expr(e, &names)?;
            checks.push(quote!(#rt::check_size_is(&__s.#m, #c, __off).map_err(|e| e.in_field(#fname))?;));
        }
        if let Some(e) = &fi.attrs.length_is {
            let c = count_expr(e, &names)?;
            checks.push(quote!(#rt::check_length_is(&__s.#m, #c, __off).map_err(|e| e.in_field(#fname))?;));
        }
        if let Some(e) = &fi.attrs.switch_is {
            let c = count_expr(e, &names)?;
            checks.push(quote!(
                if let ::core::option::Option::Some(__d) = #nd::SwitchIs::switch_value(&__s.#m) {
                    #rt::check_switch_is(__d, #c, __off).map_err(|e| e.in_field(#fname))?;
                }
            ));
        }
        if let Some((lo, hi)) = fi.attrs.range {
            let lo = Literal::i128_suffixed(lo);
            let hi = Literal::i128_suffixed(hi);
            checks.push(quote!(#rt::check_range(&__s.#m, #lo, #hi, __off).map_err(|e| e.in_field(#fname))?;));
        }
        if fi.attrs.string {
            checks.push(quote!(#rt::assert_string::<#ty>();));
        }
        if fi.attrs.size_is.is_some()
            || fi.attrs.length_is.is_some()
            || fi.attrs.switch_is.is_some()
            || fi.attrs.range.is_some()
        {
            has_checks = true;
        }
        if fi.attrs.encapsulated.is_some() && is_option(&fi.ty) {
            return Err(syn::Error::new(fi.ty.span(), "an encapsulated union field must be the union type itself"));
        }
    }

    let construct = |locals: &[TokenStream2]| -> TokenStream2 {
        match fields {
            Fields::Named(_) => {
                let ms = infos.iter().map(|f| &f.member);
                quote!(Self { #(#ms: #locals),* })
            }
            Fields::Unnamed(_) => quote!(Self( #(#locals),* )),
            Fields::Unit => quote!(Self),
        }
    };

    if attrs.params {
        // Each field is a top-level parameter (C706 14.3.12.3: deferred referents follow the
        // parameter they belong to).
        let mut enc = Vec::new();
        let mut dec = Vec::new();
        let mut locals = Vec::new();
        for fi in &infos {
            let (m, l, ty, fname) = (&fi.member, &fi.local, &fi.ty, fi.name.as_str());
            if fi.attrs.encapsulated.is_some() {
                return Err(syn::Error::new(fi.ty.span(), "encapsulated is not allowed on parameters"));
            }
            let align = fi.attrs.align.map(|n| quote!(w.align(#n);));
            let ralign = fi.attrs.align.map(|n| quote!(r.align(#n)?;));
            enc.push(quote!(#align #nd::encode_top_level(&self.#m, w).map_err(|e| e.in_field(#fname))?;));
            dec.push(quote!(#ralign let #l: #ty = #nd::decode_top_level(r).map_err(|e| e.in_field(#fname))?;));
            locals.push(quote!(#l));
        }
        let cons = construct(&locals);
        return Ok(quote! {
            impl #impl_g #nd::Ndr for #ident #ty_g #where_c {
                const HAS_POINTERS: bool = false;
                fn ndr_align(_: #nd::Syntax) -> usize { 1 }
                fn encode_inline(&self, w: &mut #nd::NdrWriter) -> #nd::Result<()> {
                    let mut __body = || -> #nd::Result<()> {
                        let __s = self;
                        let __off = w.position();
                        #(#checks)*
                        #(#enc)*
                        ::core::result::Result::Ok(())
                    };
                    __body().map_err(|e| e.in_type(#type_name))
                }
                fn decode_inline(r: &mut #nd::NdrReader<'_>) -> #nd::Result<Self> {
                    let mut __body = || -> #nd::Result<Self> {
                        #(#dec)*
                        let __v = #cons;
                        {
                            let __s = &__v;
                            let __off = r.position();
                            #(#checks)*
                        }
                        ::core::result::Result::Ok(__v)
                    };
                    __body().map_err(|e| e.in_type(#type_name))
                }
            }
        });
    }

    // Alignment: the largest member alignment (C706 14.3.7), `align = N` included.
    let mut align_terms = Vec::new();
    let mut has_ptr_terms = Vec::new();
    let mut min_terms = Vec::new();
    let mut enc_inline = Vec::new();
    let mut enc_def = Vec::new();
    let mut dec_inline = Vec::new();
    let mut dec_def = Vec::new();
    let mut locals = Vec::new();
    for fi in &infos {
        let (m, l, ty, fname) = (&fi.member, &fi.local, &fi.ty, fi.name.as_str());
        if let Some(n) = fi.attrs.align {
            align_terms.push(quote!(#n));
        }
        let walign = fi.attrs.align.map(|n| quote!(w.align(#n);));
        let ralign = fi.attrs.align.map(|n| quote!(r.align(#n)?;));
        if let Some(tag) = &fi.attrs.encapsulated {
            // Encapsulated union (C706 14.3.8): the discriminant is the sibling field `tag`; only
            // the arm follows, aligned to the largest arm.
            let Expr::Path(p) = tag else { return Err(syn::Error::new(tag.span(), "expected a field name")) };
            let Some(tag_id) = p.path.get_ident() else {
                return Err(syn::Error::new(tag.span(), "expected a field name"));
            };
            let tag_local = infos
                .iter()
                .find(|f| matches!(&f.member, syn::Member::Named(n) if n == tag_id))
                .map(|f| f.local.clone())
                .ok_or_else(|| syn::Error::new(tag.span(), format!("no field named `{tag_id}`")))?;
            align_terms.push(quote!(<#ty as #nd::NdrUnion>::arm_align(s)));
            has_ptr_terms.push(quote!(<#ty as #nd::Ndr>::HAS_POINTERS));
            enc_inline.push(quote! {
                #walign
                {
                    let __d = #nd::NdrUnion::discriminant(&self.#m);
                    #rt::check_switch_is(__d, #rt::count(&self.#tag_id), w.position()).map_err(|e| e.in_field(#fname))?;
                    w.align(<#ty as #nd::NdrUnion>::arm_align(w.syntax()));
                    #nd::NdrUnion::encode_arm(&self.#m, w).map_err(|e| e.in_field(#fname))?;
                }
            });
            enc_def.push(quote!(#nd::NdrUnion::encode_arm_deferred(&self.#m, w).map_err(|e| e.in_field(#fname))?;));
            dec_inline.push(quote! {
                #ralign
                r.align(<#ty as #nd::NdrUnion>::arm_align(r.syntax()))?;
                let #l: #ty = <#ty as #nd::NdrUnion>::decode_arm(r, #nd::Discriminant::to_i128(&#tag_local))
                    .map_err(|e| e.in_field(#fname))?;
            });
            dec_def.push(quote!(#nd::NdrUnion::decode_arm_deferred(&mut self.#m, r).map_err(|e| e.in_field(#fname))?;));
        } else {
            align_terms.push(quote!(<#ty as #nd::Ndr>::ndr_align(s)));
            has_ptr_terms.push(quote!(<#ty as #nd::Ndr>::HAS_POINTERS));
            min_terms.push(quote!(<#ty as #nd::Ndr>::MIN_WIRE_SIZE));
            enc_inline.push(quote!(#walign #nd::Ndr::encode_inline(&self.#m, w).map_err(|e| e.in_field(#fname))?;));
            enc_def.push(quote! {
                if <#ty as #nd::Ndr>::HAS_POINTERS {
                    #nd::Ndr::encode_deferred(&self.#m, w).map_err(|e| e.in_field(#fname))?;
                }
            });
            dec_inline.push(
                quote!(#ralign let #l: #ty = <#ty as #nd::Ndr>::decode_inline(r).map_err(|e| e.in_field(#fname))?;),
            );
            dec_def.push(quote! {
                if <#ty as #nd::Ndr>::HAS_POINTERS {
                    #nd::Ndr::decode_deferred(&mut self.#m, r).map_err(|e| e.in_field(#fname))?;
                }
            });
        }
        locals.push(quote!(#l));
    }
    let cons = construct(&locals);

    // A structure is conformant when its last member is (C706 14.3.7.1-2).
    let (conformant, conformance) = match infos.last() {
        Some(fi) if fi.attrs.encapsulated.is_none() => {
            let (ty, m) = (&fi.ty, &fi.member);
            (
                quote!(<#ty as #nd::Ndr>::CONFORMANT),
                quote!(if <Self as #nd::Ndr>::CONFORMANT { #nd::Ndr::conformance(&self.#m) } else { ::core::option::Option::None }),
            )
        }
        _ => (quote!(false), quote!(::core::option::Option::None)),
    };
    let has_checks_tok = if has_checks { quote!(true) } else { quote!(false) };

    Ok(quote! {
        impl #impl_g #nd::Ndr for #ident #ty_g #where_c {
            const CONFORMANT: bool = #conformant;
            const HAS_POINTERS: bool = #has_checks_tok #(|| #has_ptr_terms)*;
            const MIN_WIRE_SIZE: usize = 0 #(+ #min_terms)*;
            fn ndr_align(s: #nd::Syntax) -> usize {
                let _ = s;
                let mut a = 1usize;
                #(a = a.max(#align_terms);)*
                a
            }
            fn conformance(&self) -> ::core::option::Option<u64> {
                #conformance
            }
            fn encode_inline(&self, w: &mut #nd::NdrWriter) -> #nd::Result<()> {
                let mut __body = || -> #nd::Result<()> {
                    let __s = self;
                    let __off = w.position();
                    #(#checks)*
                    let __align = <Self as #nd::Ndr>::ndr_align(w.syntax());
                    let __h = #rt::struct_encode_begin(w, #nd::Ndr::conformance(self), __align)?;
                    #(#enc_inline)*
                    #rt::struct_encode_end(w, <Self as #nd::Ndr>::CONFORMANT, __h, __align)
                };
                __body().map_err(|e| e.in_type(#type_name))
            }
            fn encode_deferred(&self, w: &mut #nd::NdrWriter) -> #nd::Result<()> {
                let mut __body = || -> #nd::Result<()> {
                    #(#enc_def)*
                    ::core::result::Result::Ok(())
                };
                __body().map_err(|e| e.in_type(#type_name))
            }
            fn decode_inline(r: &mut #nd::NdrReader<'_>) -> #nd::Result<Self> {
                let mut __body = || -> #nd::Result<Self> {
                    let __align = <Self as #nd::Ndr>::ndr_align(r.syntax());
                    let __h = #rt::struct_decode_begin(r, <Self as #nd::Ndr>::CONFORMANT, __align)?;
                    #(#dec_inline)*
                    #rt::struct_decode_end(r, <Self as #nd::Ndr>::CONFORMANT, __h, __align)?;
                    ::core::result::Result::Ok(#cons)
                };
                __body().map_err(|e| e.in_type(#type_name))
            }
            fn decode_deferred(&mut self, r: &mut #nd::NdrReader<'_>) -> #nd::Result<()> {
                let mut __body = || -> #nd::Result<()> {
                    #(#dec_def)*
                    let __s = &*self;
                    let __off = r.position();
                    #(#checks)*
                    ::core::result::Result::Ok(())
                };
                __body().map_err(|e| e.in_type(#type_name))
            }
        }
    })
}

fn expand_c_enum(input: &DeriveInput, attrs: &ContainerAttrs, e: &syn::DataEnum) -> syn::Result<TokenStream2> {
    let ident = &input.ident;
    let nd = quote!(::dcom_ndr);
    let rt = quote!(::dcom_ndr::codec::support);
    let v1 = attrs.v1_enum;
    let mut next: i128 = 0;
    let mut to = Vec::new();
    let mut from = Vec::new();
    for v in &e.variants {
        if !matches!(v.fields, Fields::Unit) {
            return Err(syn::Error::new(
                v.span(),
                "a C enumeration has unit variants only; add #[ndr(switch_type = T)] for a union",
            ));
        }
        let val = match &v.discriminant {
            Some((_, d)) => int_of(d)?,
            None => next,
        };
        next = val + 1;
        let vi = &v.ident;
        let lit = Literal::i128_suffixed(val);
        to.push(quote!(Self::#vi => #lit));
        from.push(quote!(#lit => ::core::option::Option::Some(Self::#vi)));
    }
    Ok(quote! {
        impl #nd::Discriminant for #ident {
            fn to_i128(&self) -> i128 {
                match self { #(#to,)* }
            }
            fn from_i128(v: i128) -> ::core::option::Option<Self> {
                match v { #(#from,)* _ => ::core::option::Option::None }
            }
        }
        impl #nd::Ndr for #ident {
            const HAS_POINTERS: bool = false;
            const MIN_WIRE_SIZE: usize = 2;
            fn ndr_align(s: #nd::Syntax) -> usize {
                #rt::enum_align(s, #v1)
            }
            fn encode_inline(&self, w: &mut #nd::NdrWriter) -> #nd::Result<()> {
                let v = i64::try_from(#nd::Discriminant::to_i128(self)).unwrap_or(i64::MAX);
                #rt::encode_enum(w, v, #v1)
            }
            fn decode_inline(r: &mut #nd::NdrReader<'_>) -> #nd::Result<Self> {
                let v = #rt::decode_enum(r, #v1)?;
                <Self as #nd::Discriminant>::from_i128(i128::from(v)).ok_or_else(|| #rt::unknown_enum(r, v))
            }
        }
    })
}

fn expand_union(input: &DeriveInput, attrs: &ContainerAttrs, e: &syn::DataEnum) -> syn::Result<TokenStream2> {
    let ident = &input.ident;
    let type_name = attrs.name.clone().unwrap_or_else(|| ident.to_string());
    let nd = quote!(::dcom_ndr);
    let rt = quote!(::dcom_ndr::codec::support);
    let Some(dty) = &attrs.switch_type else { return Err(syn::Error::new(Span::call_site(), "switch_type missing")) };
    let (impl_g, ty_g, where_c) = input.generics.split_for_impl();

    let mut disc_arms = Vec::new();
    let mut align_terms = Vec::new();
    let mut ptr_terms = Vec::new();
    let mut enc = Vec::new();
    let mut enc_def = Vec::new();
    let mut dec = Vec::new();
    let mut dec_def = Vec::new();
    let mut default_dec = None;
    for v in &e.variants {
        let va = variant_attrs(&v.attrs)?;
        let vi = &v.ident;
        let vname = vi.to_string();
        let tys: Vec<&Type> = v.fields.iter().map(|f| &f.ty).collect();
        if !matches!(v.fields, Fields::Unnamed(_) | Fields::Unit) {
            return Err(syn::Error::new(v.span(), "union arms are unit or tuple variants"));
        }
        if va.default {
            // Default arm: first field keeps the discriminant, optional second is the arm.
            match tys.as_slice() {
                [dt] => {
                    disc_arms.push(quote!(Self::#vi(d) => #nd::Discriminant::to_i128(d)));
                    enc.push(quote!(Self::#vi(_) => ::core::result::Result::Ok(())));
                    enc_def.push(quote!(Self::#vi(_) => ::core::result::Result::Ok(())));
                    dec_def.push(quote!(Self::#vi(_) => ::core::result::Result::Ok(())));
                    default_dec = Some(quote! {
                        let d = <#dt as #nd::Discriminant>::from_i128(discriminant)
                            .ok_or_else(|| #rt::unknown_discriminant(r, discriminant))?;
                        ::core::result::Result::Ok(Self::#vi(d))
                    });
                }
                [dt, at] => {
                    align_terms.push(quote!(<#at as #nd::Ndr>::ndr_align(s)));
                    ptr_terms.push(quote!(<#at as #nd::Ndr>::HAS_POINTERS));
                    disc_arms.push(quote!(Self::#vi(d, _) => #nd::Discriminant::to_i128(d)));
                    enc.push(quote!(Self::#vi(_, v) => #nd::Ndr::encode_inline(v, w).map_err(|e| e.in_field(#vname))));
                    enc_def.push(
                        quote!(Self::#vi(_, v) => #nd::Ndr::encode_deferred(v, w).map_err(|e| e.in_field(#vname))),
                    );
                    dec_def.push(
                        quote!(Self::#vi(_, v) => #nd::Ndr::decode_deferred(v, r).map_err(|e| e.in_field(#vname))),
                    );
                    default_dec = Some(quote! {
                        let d = <#dt as #nd::Discriminant>::from_i128(discriminant)
                            .ok_or_else(|| #rt::unknown_discriminant(r, discriminant))?;
                        let v = <#at as #nd::Ndr>::decode_inline(r).map_err(|e| e.in_field(#vname))?;
                        ::core::result::Result::Ok(Self::#vi(d, v))
                    });
                }
                _ => {
                    return Err(syn::Error::new(
                        v.span(),
                        "the default arm is `Name(Discriminant)` or `Name(Discriminant, ArmType)`",
                    ));
                }
            }
            continue;
        }
        let Some(case) = &va.case else {
            return Err(syn::Error::new(v.span(), "union arm needs #[ndr(case = value)] or #[ndr(default)]"));
        };
        let cval = quote!(#nd::Discriminant::to_i128(&{ let c: #dty = #case; c }));
        match tys.as_slice() {
            [] => {
                disc_arms.push(quote!(Self::#vi => #cval));
                enc.push(quote!(Self::#vi => ::core::result::Result::Ok(())));
                enc_def.push(quote!(Self::#vi => ::core::result::Result::Ok(())));
                dec_def.push(quote!(Self::#vi => ::core::result::Result::Ok(())));
                dec.push(quote!(if discriminant == #cval { return ::core::result::Result::Ok(Self::#vi); }));
            }
            [at] => {
                align_terms.push(quote!(<#at as #nd::Ndr>::ndr_align(s)));
                ptr_terms.push(quote!(<#at as #nd::Ndr>::HAS_POINTERS));
                disc_arms.push(quote!(Self::#vi(_) => #cval));
                enc.push(quote!(Self::#vi(v) => #nd::Ndr::encode_inline(v, w).map_err(|e| e.in_field(#vname))));
                enc_def.push(quote!(Self::#vi(v) => #nd::Ndr::encode_deferred(v, w).map_err(|e| e.in_field(#vname))));
                dec_def.push(quote!(Self::#vi(v) => #nd::Ndr::decode_deferred(v, r).map_err(|e| e.in_field(#vname))));
                dec.push(quote! {
                    if discriminant == #cval {
                        let v = <#at as #nd::Ndr>::decode_inline(r).map_err(|e| e.in_field(#vname))?;
                        return ::core::result::Result::Ok(Self::#vi(v));
                    }
                });
            }
            _ => return Err(syn::Error::new(v.span(), "a union arm holds at most one value")),
        }
    }
    let fallback =
        default_dec.unwrap_or_else(|| quote!(::core::result::Result::Err(#rt::unknown_discriminant(r, discriminant))));

    Ok(quote! {
        impl #impl_g #nd::NdrUnion for #ident #ty_g #where_c {
            fn discriminant(&self) -> i128 {
                match self { #(#disc_arms,)* }
            }
            fn arm_align(s: #nd::Syntax) -> usize {
                let _ = s;
                let mut a = 1usize;
                #(a = a.max(#align_terms);)*
                a
            }
            fn encode_arm(&self, w: &mut #nd::NdrWriter) -> #nd::Result<()> {
                match self { #(#enc,)* }
            }
            fn encode_arm_deferred(&self, w: &mut #nd::NdrWriter) -> #nd::Result<()> {
                match self { #(#enc_def,)* }
            }
            fn decode_arm(r: &mut #nd::NdrReader<'_>, discriminant: i128) -> #nd::Result<Self> {
                #(#dec)*
                #fallback
            }
            fn decode_arm_deferred(&mut self, r: &mut #nd::NdrReader<'_>) -> #nd::Result<()> {
                match self { #(#dec_def,)* }
            }
        }
        impl #impl_g #nd::SwitchIs for #ident #ty_g #where_c {
            fn switch_value(&self) -> ::core::option::Option<i128> {
                ::core::option::Option::Some(#nd::NdrUnion::discriminant(self))
            }
        }
        impl #impl_g #nd::Ndr for #ident #ty_g #where_c {
            const HAS_POINTERS: bool = false #(|| #ptr_terms)*;
            const MIN_WIRE_SIZE: usize = <#dty as #nd::Ndr>::MIN_WIRE_SIZE;
            /// Largest of the discriminant and all arms (C706 14.3.8; [MS-RPCE 2.2.5.3.4.3]).
            fn ndr_align(s: #nd::Syntax) -> usize {
                <#dty as #nd::Ndr>::ndr_align(s).max(<Self as #nd::NdrUnion>::arm_align(s))
            }
            fn encode_inline(&self, w: &mut #nd::NdrWriter) -> #nd::Result<()> {
                let mut __body = || -> #nd::Result<()> {
                    #rt::union_encode_begin(w, <Self as #nd::Ndr>::ndr_align(w.syntax()));
                    #rt::encode_discriminant::<#dty>(w, #nd::NdrUnion::discriminant(self))?;
                    #rt::union_arm_align(w, <Self as #nd::NdrUnion>::arm_align(w.syntax()));
                    #nd::NdrUnion::encode_arm(self, w)
                };
                __body().map_err(|e| e.in_type(#type_name))
            }
            fn encode_deferred(&self, w: &mut #nd::NdrWriter) -> #nd::Result<()> {
                #nd::NdrUnion::encode_arm_deferred(self, w).map_err(|e| e.in_type(#type_name))
            }
            fn decode_inline(r: &mut #nd::NdrReader<'_>) -> #nd::Result<Self> {
                let mut __body = || -> #nd::Result<Self> {
                    r.enter()?;
                    #rt::union_decode_begin(r, <Self as #nd::Ndr>::ndr_align(r.syntax()))?;
                    let d = #rt::decode_discriminant::<#dty>(r)?;
                    #rt::union_arm_align_read(r, <Self as #nd::NdrUnion>::arm_align(r.syntax()))?;
                    let v = <Self as #nd::NdrUnion>::decode_arm(r, d)?;
                    r.leave();
                    ::core::result::Result::Ok(v)
                };
                __body().map_err(|e| e.in_type(#type_name))
            }
            fn decode_deferred(&mut self, r: &mut #nd::NdrReader<'_>) -> #nd::Result<()> {
                #nd::NdrUnion::decode_arm_deferred(self, r).map_err(|e| e.in_type(#type_name))
            }
        }
    })
}
