//! `interface!`: the per-interface boilerplate (opnum constants, operation markers, [`crate::Interface`] impl,
//! `Request` / `Response` dispatch enums).

/// Declares an interface's operations.
///
/// ```text
/// interface! {
///     /// docs
///     Rpcecho = "rpcecho", SYNTAX;
///     /// docs of the operation
///     0 ADD_ONE AddOne("echo_AddOne", AddOneIn, AddOneOut);
/// }
/// ```
macro_rules! interface {
    (
        $(#[$imeta:meta])*
        $iface:ident = $name:literal, $syntax:path;
        $(
            $(#[$ometa:meta])*
            $opnum:literal $konst:ident $op:ident($opname:literal, $in:ty, $out:ty);
        )*
    ) => {
        /// Operation numbers ([MS-RPCE 2.2.2.11] `opnum`).
        pub mod opnum {
            $(
                #[doc = concat!("`", $opname, "`.")]
                pub const $konst: u16 = $opnum;
            )*
        }

        $(#[$imeta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $iface;

        impl $crate::Interface for $iface {
            const SYNTAX: $crate::SyntaxId = $syntax;
            const NAME: &'static str = $name;
            fn op_name(opnum: u16) -> Option<&'static str> {
                match opnum {
                    $( $opnum => Some($opname), )*
                    _ => None,
                }
            }
        }

        $(
            $(#[$ometa])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
            pub struct $op;

            impl $crate::Operation for $op {
                type Interface = $iface;
                const OPNUM: u16 = $opnum;
                const NAME: &'static str = $opname;
                type In = $in;
                type Out = $out;
            }
        )*

        /// A decoded request stub of any operation of the interface.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Request {
            $(
                #[doc = concat!("`", $opname, "` `[in]` parameters.")]
                $op($in),
            )*
        }

        /// A decoded response stub of any operation of the interface.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Response {
            $(
                #[doc = concat!("`", $opname, "` `[out]` parameters and return value.")]
                $op($out),
            )*
        }

        impl Request {
            /// The operation number.
            #[must_use]
            pub fn opnum(&self) -> u16 {
                match self {
                    $( Self::$op(_) => $opnum, )*
                }
            }

            /// Decodes the request stub of `opnum`; every byte must be used.
            pub fn decode(
                opnum: u16,
                stub: &[u8],
                ctx: ::dcom_ndr::NdrContext,
            ) -> Result<Self, $crate::IdlError> {
                let (v, used) = Self::decode_prefix(opnum, stub, ctx)?;
                if used == stub.len() {
                    Ok(v)
                } else {
                    Err($crate::IdlError::new(
                        $crate::IdlErrorKind::TrailingBytes { used, len: stub.len() },
                        $name,
                        opnum,
                        $crate::Direction::Request,
                    ))
                }
            }

            /// Decodes the parameters at the start of `stub` and returns them with the number of bytes they
            /// took; the caller decides what may follow (stub padding, a verification trailer,
            /// [MS-RPCE 2.2.2.13]).
            pub fn decode_prefix(
                opnum: u16,
                stub: &[u8],
                ctx: ::dcom_ndr::NdrContext,
            ) -> Result<(Self, usize), $crate::IdlError> {
                match opnum {
                    $(
                        $opnum => $crate::decode_prefix_as::<$in>($name, opnum, $crate::Direction::Request, stub, ctx)
                            .map(|(v, used)| (Self::$op(v), used)),
                    )*
                    _ => Err($crate::IdlError::new(
                        $crate::IdlErrorKind::UnknownOpnum,
                        $name,
                        opnum,
                        $crate::Direction::Request,
                    )),
                }
            }

            /// Encodes the request stub.
            pub fn encode(&self, ctx: ::dcom_ndr::NdrContext) -> Result<Vec<u8>, $crate::IdlError> {
                let r = match self {
                    $( Self::$op(v) => ::dcom_ndr::encode(v, ctx), )*
                };
                r.map_err(|e| {
                    $crate::IdlError::new($crate::IdlErrorKind::Ndr(e), $name, self.opnum(), $crate::Direction::Request)
                })
            }
        }

        impl Response {
            /// The operation number.
            #[must_use]
            pub fn opnum(&self) -> u16 {
                match self {
                    $( Self::$op(_) => $opnum, )*
                }
            }

            /// Decodes the response stub of `opnum`; every byte must be used.
            pub fn decode(
                opnum: u16,
                stub: &[u8],
                ctx: ::dcom_ndr::NdrContext,
            ) -> Result<Self, $crate::IdlError> {
                let (v, used) = Self::decode_prefix(opnum, stub, ctx)?;
                if used == stub.len() {
                    Ok(v)
                } else {
                    Err($crate::IdlError::new(
                        $crate::IdlErrorKind::TrailingBytes { used, len: stub.len() },
                        $name,
                        opnum,
                        $crate::Direction::Response,
                    ))
                }
            }

            /// Decodes the parameters at the start of `stub` and returns them with the number of bytes they
            /// took (see [`Request::decode_prefix`]).
            pub fn decode_prefix(
                opnum: u16,
                stub: &[u8],
                ctx: ::dcom_ndr::NdrContext,
            ) -> Result<(Self, usize), $crate::IdlError> {
                match opnum {
                    $(
                        $opnum => $crate::decode_prefix_as::<$out>($name, opnum, $crate::Direction::Response, stub, ctx)
                            .map(|(v, used)| (Self::$op(v), used)),
                    )*
                    _ => Err($crate::IdlError::new(
                        $crate::IdlErrorKind::UnknownOpnum,
                        $name,
                        opnum,
                        $crate::Direction::Response,
                    )),
                }
            }

            /// Encodes the response stub.
            pub fn encode(&self, ctx: ::dcom_ndr::NdrContext) -> Result<Vec<u8>, $crate::IdlError> {
                let r = match self {
                    $( Self::$op(v) => ::dcom_ndr::encode(v, ctx), )*
                };
                r.map_err(|e| {
                    $crate::IdlError::new($crate::IdlErrorKind::Ndr(e), $name, self.opnum(), $crate::Direction::Response)
                })
            }
        }
    };
}
