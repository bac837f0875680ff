//! [`Params`]: one row of parameters for a statement, from a tuple, an array, a slice or
//! a `Vec` of [`ToSql`] values. Rows are encoded straight into the Bind being written:
//! no per-row allocation.

use bytes::BytesMut;

use crate::error::Error;
use crate::protocol::frontend::{BindWriter, IsNull};
use crate::protocol::{Format, Oid};
use crate::types::{ConversionError, ToSql, ValueType};

/// One row of statement parameters.
pub trait Params {
    /// Number of values.
    fn len(&self) -> usize;

    /// Whether there are no values.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at `i`.
    fn get(&self, i: usize) -> Option<&(dyn ToSql + Sync)>;

    /// Writes every value into a Bind (the bulk hot path). The default goes through
    /// [`get`](Self::get); tuples override it with static dispatch so each value's
    /// encoder can be inlined.
    #[doc(hidden)]
    fn write_values(&self, plan: &ParamPlan, w: &mut BindWriter<'_>) -> Result<(), Error> {
        for i in 0..self.len() {
            let v = self
                .get(i)
                .ok_or_else(|| Error::config("row shorter than its length"))?;
            plan.write_one(w, i, v)?;
        }
        Ok(())
    }
}

impl Params for [&(dyn ToSql + Sync)] {
    fn len(&self) -> usize {
        <[_]>::len(self)
    }
    fn get(&self, i: usize) -> Option<&(dyn ToSql + Sync)> {
        <[_]>::get(self, i).copied()
    }
}

impl<const N: usize> Params for [&(dyn ToSql + Sync); N] {
    fn len(&self) -> usize {
        N
    }
    fn get(&self, i: usize) -> Option<&(dyn ToSql + Sync)> {
        self.as_slice().get(i).copied()
    }
}

impl<T: ToSql + Sync> Params for Vec<T> {
    fn len(&self) -> usize {
        Self::len(self)
    }
    fn get(&self, i: usize) -> Option<&(dyn ToSql + Sync)> {
        self.as_slice().get(i).map(|v| v as &(dyn ToSql + Sync))
    }
}

impl<P: Params + ?Sized> Params for &P {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn get(&self, i: usize) -> Option<&(dyn ToSql + Sync)> {
        (**self).get(i)
    }
}

macro_rules! tuple_params {
    ($n:literal; $($t:ident $i:tt),+) => {
        impl<$($t: ToSql + Sync),+> Params for ($($t,)+) {
            fn len(&self) -> usize {
                $n
            }
            fn get(&self, i: usize) -> Option<&(dyn ToSql + Sync)> {
                match i {
                    $($i => Some(&self.$i),)+
                    _ => None,
                }
            }
            #[inline]
            fn write_values(&self, plan: &ParamPlan, w: &mut BindWriter<'_>) -> Result<(), Error> {
                $(plan.write_one(w, $i, &self.$i)?;)+
                Ok(())
            }
        }
    };
}

tuple_params!(1; A 0);
tuple_params!(2; A 0, B 1);
tuple_params!(3; A 0, B 1, C 2);
tuple_params!(4; A 0, B 1, C 2, D 3);
tuple_params!(5; A 0, B 1, C 2, D 3, E 4);
tuple_params!(6; A 0, B 1, C 2, D 3, E 4, F 5);
tuple_params!(7; A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_params!(8; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_params!(9; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_params!(10; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_params!(11; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_params!(12; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);

/// A row's values in another order (repeated where a placeholder repeats): for servers
/// that bind placeholders by position, after the SQL was renumbered.
pub(crate) struct Reordered<'a, P: ?Sized> {
    pub(crate) row: &'a P,
    pub(crate) order: &'a [u16],
}

impl<P: Params + ?Sized> Params for Reordered<'_, P> {
    fn len(&self) -> usize {
        self.order.len()
    }
    fn get(&self, i: usize) -> Option<&(dyn ToSql + Sync)> {
        self.order
            .get(i)
            .and_then(|&j| self.row.get(usize::from(j)))
    }
}

/// How a statement's parameters are sent, decided once per statement.
#[derive(Debug, Clone)]
#[doc(hidden)]
pub struct ParamPlan {
    /// Each parameter's type and format, as its encoder is asked to write it.
    pub(crate) types: Vec<ValueType>,
    /// The Bind's parameter format codes.
    pub(crate) formats: Vec<i16>,
}

impl ParamPlan {
    /// Decides formats from the first row: binary where the value supports it for the
    /// declared type (unless text-only), text otherwise.
    pub(crate) fn new(
        types: &[Oid],
        first: &dyn Params,
        text_only: bool,
        lenient: bool,
    ) -> Result<Self, Error> {
        if first.len() != types.len() {
            return Err(Error::config(format!(
                "statement has {} parameters, row has {}",
                types.len(),
                first.len()
            )));
        }
        let mut formats = Vec::with_capacity(types.len());
        for (i, &oid) in types.iter().enumerate() {
            let v = first
                .get(i)
                .ok_or_else(|| Error::config("row shorter than its length"))?;
            if !lenient && oid != 0 && oid != crate::types::oid::UNKNOWN && !v.accepts(oid) {
                return Err(Error::conversion(
                    format!(
                        "cannot send {v:?} as parameter ${} of type OID {oid}",
                        i + 1
                    ),
                    ConversionError::WrongType {
                        rust: "parameter",
                        oid,
                    },
                ));
            }
            formats.push(if !text_only && v.supports_binary(oid) {
                1
            } else {
                0
            });
        }
        let types = types
            .iter()
            .zip(&formats)
            .map(|(&oid, &f)| ValueType {
                oid,
                format: if f == 1 { Format::Binary } else { Format::Text },
                lenient,
            })
            .collect();
        Ok(Self { types, formats })
    }

    /// Writes one row's values into a Bind.
    #[inline]
    pub(crate) fn write<P: Params + ?Sized>(
        &self,
        w: &mut BindWriter<'_>,
        row: &P,
    ) -> Result<(), Error> {
        if row.len() != self.types.len() {
            return Err(Error::config(format!(
                "row has {} values, the statement {} parameters",
                row.len(),
                self.types.len()
            )));
        }
        row.write_values(self, w)
    }

    /// Writes value `i` of a row.
    #[inline]
    pub(crate) fn write_one<T: ToSql + ?Sized>(
        &self,
        w: &mut BindWriter<'_>,
        i: usize,
        v: &T,
    ) -> Result<(), Error> {
        let ty = self
            .types
            .as_slice()
            .get(i)
            .copied()
            .unwrap_or(ValueType::new(0, Format::Text));
        if let Some(fixed) = v.to_sql_fixed(ty) {
            return w.framed_value(fixed.as_bytes()).map_err(Error::encode);
        }
        if let Some(bytes) = v.to_sql_slice(ty) {
            return w.value(bytes).map_err(Error::encode);
        }
        w.value_with(|buf: &mut BytesMut| -> Result<IsNull, Error> {
            v.to_sql(ty, buf)
                .map_err(|e| Error::conversion(format!("cannot encode parameter ${}", i + 1), e))
        })
    }
}
