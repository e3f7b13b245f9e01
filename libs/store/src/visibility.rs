//! Translates a parsed visibility query (`waymark_core::visibility::Expr`) into a condition
//! on the `activities` table, with the same answers as the core's in-memory evaluator.

use sea_orm::sea_query::{Expr as SqlExpr, ExprTrait, SimpleExpr};
use sea_orm::{ColumnTrait, Condition};
use waymark_core::visibility::{Attr, CmpOp, Expr, Value};

use crate::entity::{activity, workflow};

/// The columns of a listed table that the query attributes name.
pub trait VisibilityColumns: ColumnTrait {
    fn of(attr: Attr) -> Self;
}

impl VisibilityColumns for activity::Column {
    fn of(attr: Attr) -> Self {
        use activity::Column as C;
        match attr {
            Attr::ActivityId => C::ActivityId,
            Attr::RunId => C::RunId,
            Attr::ActivityType => C::ActivityType,
            Attr::TaskQueue => C::TaskQueue,
            Attr::ExecutionStatus => C::Status,
            Attr::StartTime => C::ScheduleTimeNs,
            Attr::CloseTime => C::CloseTimeNs,
            Attr::ExecutionTime => C::ExecutionTimeNs,
            Attr::Attempt => C::Attempt,
        }
    }
}

impl VisibilityColumns for workflow::Column {
    fn of(attr: Attr) -> Self {
        use workflow::Column as C;
        // The query's WorkflowId/WorkflowType parse to the id and type attributes.
        match attr {
            Attr::ActivityId => C::WorkflowId,
            Attr::RunId => C::RunId,
            Attr::ActivityType => C::WorkflowType,
            Attr::TaskQueue => C::TaskQueue,
            Attr::ExecutionStatus => C::Status,
            Attr::StartTime => C::StartTimeNs,
            Attr::CloseTime => C::CloseTimeNs,
            Attr::ExecutionTime => C::ExecutionTimeNs,
            Attr::Attempt => C::Attempt,
        }
    }
}

/// The condition selecting the runs `expr` matches. Chains of one operator (`a AND b AND
/// ...`, as deep as the query is long) are flattened iteratively, so recursion only follows
/// alternations of AND and OR, which the parser bounds.
pub fn condition<C: VisibilityColumns>(expr: &Expr) -> Condition {
    match expr {
        Expr::And(..) => flatten::<C>(expr, Condition::all(), |e| match e {
            Expr::And(a, b) => Some((a, b)),
            _ => None,
        }),
        Expr::Or(..) => flatten::<C>(expr, Condition::any(), |e| match e {
            Expr::Or(a, b) => Some((a, b)),
            _ => None,
        }),
        leaf => Condition::all().add(predicate::<C>(leaf)),
    }
}

fn flatten<C: VisibilityColumns>(
    expr: &Expr,
    mut cond: Condition,
    split: fn(&Expr) -> Option<(&Expr, &Expr)>,
) -> Condition {
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        match split(e) {
            Some((a, b)) => stack.extend([b, a]),
            None => cond = cond.add(condition::<C>(e)),
        }
    }
    cond
}

fn predicate<C: VisibilityColumns>(leaf: &Expr) -> SimpleExpr {
    let column = C::of;
    match leaf {
        Expr::Cmp { attr, op, value } => {
            let (col, Some(v)) = (column(*attr), typed(*attr, value)) else {
                // A value of the other type never compares true, as in the evaluator.
                return never();
            };
            match op {
                CmpOp::Eq => col.eq(v),
                CmpOp::Ne => col.ne(v),
                CmpOp::Lt => col.lt(v),
                CmpOp::Le => col.lte(v),
                CmpOp::Gt => col.gt(v),
                CmpOp::Ge => col.gte(v),
            }
        }
        Expr::In {
            attr,
            values,
            negated,
        } => {
            let col = column(*attr);
            let values: Vec<_> = values.iter().filter_map(|v| typed(*attr, v)).collect();
            match (values.is_empty(), negated) {
                (true, false) => never(),
                // NOT IN () holds for every row that has a value, like `NULL NOT IN (...)` fails.
                (true, true) => col.is_not_null(),
                (false, false) => col.is_in(values),
                (false, true) => col.is_not_in(values),
            }
        }
        Expr::IsNull {
            attr,
            negated: false,
        } => column(*attr).is_null(),
        Expr::IsNull {
            attr,
            negated: true,
        } => column(*attr).is_not_null(),
        Expr::And(..) | Expr::Or(..) => unreachable!("condition() handles AND and OR"),
    }
}

/// The value as the attribute's column type, or None when its type does not fit.
fn typed(attr: Attr, value: &Value) -> Option<sea_orm::Value> {
    match value {
        Value::Time(ns) if attr.is_time() => Some((*ns).into()),
        Value::Int(n) if attr.is_int() => Some((*n).into()),
        Value::Str(s) if !attr.is_time() && !attr.is_int() => Some(s.clone().into()),
        _ => None,
    }
}

fn never() -> SimpleExpr {
    ExprTrait::eq(SqlExpr::val(1), 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{DbBackend, EntityTrait, QueryFilter, QueryTrait};

    fn sql(expr: &Expr) -> String {
        let q = activity::Entity::find()
            .filter(condition::<activity::Column>(expr))
            .build(DbBackend::Sqlite)
            .to_string();
        q.split_once(" WHERE ").unwrap().1.to_owned()
    }

    fn cmp(attr: Attr, op: CmpOp, value: Value) -> Expr {
        Expr::Cmp { attr, op, value }
    }

    fn s(v: &str) -> Value {
        Value::Str(v.to_owned())
    }

    #[test]
    fn and_or_chains_flatten_and_keep_their_order() {
        let a = cmp(Attr::ActivityType, CmpOp::Eq, s("a"));
        let b = cmp(Attr::TaskQueue, CmpOp::Ne, s("b"));
        let c = cmp(Attr::StartTime, CmpOp::Ge, Value::Time(5));
        let e = Expr::Or(
            Box::new(Expr::And(
                Box::new(Expr::And(Box::new(a.clone()), Box::new(b.clone()))),
                Box::new(c.clone()),
            )),
            Box::new(a),
        );
        assert_eq!(
            sql(&e),
            r#"("activities"."activity_type" = 'a' AND "activities"."task_queue" <> 'b' AND "activities"."schedule_time_ns" >= 5) OR "activities"."activity_type" = 'a'"#
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_matches_nothing() {
        assert_eq!(sql(&cmp(Attr::CloseTime, CmpOp::Ne, s("x"))), "1 = 0");
        let e = Expr::In {
            attr: Attr::RunId,
            values: vec![Value::Time(1), s("r")],
            negated: false,
        };
        assert_eq!(sql(&e), r#""activities"."run_id" IN ('r')"#);
    }

    #[test]
    fn empty_in_lists_follow_the_evaluator() {
        let e = |negated| Expr::In {
            attr: Attr::CloseTime,
            values: vec![s("x")],
            negated,
        };
        assert_eq!(sql(&e(false)), "1 = 0");
        assert_eq!(sql(&e(true)), r#""activities"."close_time_ns" IS NOT NULL"#);
    }

    #[test]
    fn a_long_chain_does_not_recurse() {
        let leaf = cmp(Attr::ExecutionStatus, CmpOp::Eq, s("Running"));
        let mut e = leaf.clone();
        for _ in 0..100_000 {
            e = Expr::And(Box::new(e), Box::new(leaf.clone()));
        }
        assert_eq!(condition::<activity::Column>(&e).len(), 100_001);
        // Dropping a 100k-deep Box chain recurses too: unwind it by hand.
        while let Expr::And(a, _) = e {
            e = *a;
        }
    }
}
